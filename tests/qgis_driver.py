"""Drive the debrismap QGIS plugin inside QGIS's own Python, headless; print what happened as JSON.

Run by tests/test_qgis_plugin.py with /usr/bin/python3 (the interpreter QGIS's bindings are
built for, not the test's venv) and QT_QPA_PLATFORM=offscreen:

    python3 tests/qgis_driver.py RASTER BIG_RASTER WORK_DIR

In one QGIS start (each costs seconds): loads the provider as QGIS does, runs "Detect debris
piles" into a project and loads its layers the way the Processing dialog does, renders the map
to WORK_DIR/map.png, cancels a detect run of BIG_RASTER mid-way and resumes it, then runs
"Compare two runs" and "Density heatmap".
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "qgis"))
sys.path.insert(0, "/usr/share/qgis/python/plugins")

from qgis.core import (
    QgsApplication,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProject,
    QgsRasterLayer,
    QgsRenderContext,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor


class Feedback(QgsProcessingFeedback):
    """Records progress and errors; cancels itself at the first progress past `cancel_at` percent."""

    def __init__(self, cancel_at: float | None = None):
        super().__init__()
        self.progress_seen: list[float] = []
        self.console: list[str] = []
        self.errors: list[str] = []
        self.cancel_at = cancel_at

    def setProgress(self, progress):
        self.progress_seen.append(progress)
        super().setProgress(progress)
        if self.cancel_at is not None and 0 < progress < 100 and progress >= self.cancel_at:
            self.cancel()

    def pushConsoleInfo(self, info):
        self.console.append(info)
        super().pushConsoleInfo(info)

    def reportError(self, error, fatalError=False):
        self.errors.append(error)
        super().reportError(error, fatalError)


def run_algorithm(algorithm_id: str, parameters: dict, project, feedback: Feedback):
    from processing.gui.Postprocessing import handleAlgorithmResults

    algorithm = QgsApplication.processingRegistry().createAlgorithmById(algorithm_id)
    context = QgsProcessingContext()
    context.setProject(project)
    ok_params, message = algorithm.checkParameterValues(parameters, context)
    if not ok_params:
        return {"ok": False, "errors": [message]}
    started = time.perf_counter()
    results, ok = algorithm.run(parameters, context, feedback)
    seconds = time.perf_counter() - started
    progress = list(feedback.progress_seen)  # the run's own, before QGIS's layer-loading progress
    if ok:  # what the Processing dialog does after a run: load the outputs into the project
        handleAlgorithmResults(algorithm, context, feedback, parameters=parameters)
    return {"ok": bool(ok), "results": {k: str(v) for k, v in (results or {}).items()}, "seconds": round(seconds, 2),
            "progress": progress, "errors": feedback.errors, "console": feedback.console}


def describe_layers(project) -> list[dict]:
    from qgis.core import QgsMapLayerType

    out = []
    for node in project.layerTreeRoot().findLayers():
        layer = node.layer()
        entry = {"name": layer.name(), "source": layer.source(), "valid": layer.isValid()}
        if layer.type() == QgsMapLayerType.VectorLayer:
            renderer = layer.renderer()
            entry.update(kind="vector", renderer=renderer.type(), features=layer.featureCount())
            if hasattr(renderer, "classAttribute"):
                entry["attribute"] = renderer.classAttribute()
            if hasattr(renderer, "categories"):
                entry["categories"] = [str(c.value()) for c in renderer.categories()]
            symbol = renderer.symbols(QgsRenderContext())[0]
            entry["fill_alpha"] = symbol.symbolLayer(0).fillColor().alpha() if hasattr(
                symbol.symbolLayer(0), "fillColor") else None
            entry["brush_style"] = int(symbol.symbolLayer(0).brushStyle()) if hasattr(
                symbol.symbolLayer(0), "brushStyle") else None
        else:
            renderer = layer.renderer()
            entry.update(kind="raster", renderer=renderer.type())
            if renderer.type() == "singlebandpseudocolor":
                items = renderer.shader().rasterShaderFunction().colorRampItemList()
                entry["ramp"] = [[item.value, item.color.alpha()] for item in items]
                entry["classification_max"] = renderer.classificationMax()
        out.append(entry)
    return out


def processes_writing_to(folder: Path) -> list[int]:
    """Live processes whose command line names `folder` (a cancelled command must leave none)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(folder).encode() in cmdline:
                pids.append(int(entry.name))
    return pids


def render(project, layers, png: Path) -> dict:
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(layers[-1].crs())
    settings.setExtent(layers[-1].extent())
    settings.setOutputSize(QSize(900, 900))
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    image.save(str(png), "PNG")
    colours = set()
    non_white = 0
    for y in range(0, image.height(), 3):
        for x in range(0, image.width(), 3):
            rgb = image.pixel(x, y) & 0xFFFFFF
            colours.add(rgb)
            non_white += rgb != 0xFFFFFF
    return {"png": str(png), "width": image.width(), "height": image.height(),
            "distinct_colours": len(colours), "non_white_share": non_white / len(range(0, 900, 3)) ** 2}


def setting_is_honoured(work: Path) -> dict:
    """The provider's setting (Options > Processing > Providers > debrismap) wins over the environment."""
    from debrismap_qgis.runner import DebrismapCommandError
    from debrismap_qgis.settings import EXECUTABLE_SETTING, debrismap_executable
    from processing.core.ProcessingConfig import ProcessingConfig

    not_a_command = work / "not-a-command.txt"  # the setting's own check wants an existing file
    not_a_command.write_text("")
    ProcessingConfig.setSettingValue(EXECUTABLE_SETTING, str(not_a_command))
    try:
        debrismap_executable()
        outcome = "accepted"
    except DebrismapCommandError as exc:
        outcome = str(exc)
    ProcessingConfig.setSettingValue(EXECUTABLE_SETTING, "")
    return {"with_bad_setting": outcome, "without": debrismap_executable()}


def start_qgis_with_plugin():
    app = QgsApplication([], True)
    app.initQgis()
    from processing.core.Processing import Processing

    Processing.initialize()
    import qgis.utils

    # As the QGIS desktop starts an enabled plugin: classFactory(iface), then initGui().
    assert qgis.utils.loadPlugin("debrismap_qgis") and qgis.utils.startPlugin("debrismap_qgis")
    return app, QgsApplication.processingRegistry().providerById("debrismap")


def timeline(runs: list[str], out: str) -> None:
    """`qgis_driver.py --timeline OUT RUN...`: run Timeline of piles into a project, report its layer."""
    _app, provider = start_qgis_with_plugin()  # held: QGIS lives as long as this reference
    project = QgsProject.instance()
    report = {"algorithms": sorted(a.id() for a in provider.algorithms())}
    report["timeline"] = run_algorithm("debrismap:timeline", {"RUNS": "\n".join(runs), "MATCH_DISTANCE": 3,
                                                              "OUTPUT": out}, project, Feedback())
    report["layers"] = describe_layers(project)
    print("DRIVER-REPORT " + json.dumps(report))
    sys.stdout.flush()
    os._exit(0)


def main() -> None:
    if sys.argv[1] == "--timeline":
        timeline(sys.argv[3:], sys.argv[2])
    raster, big_raster, work = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    _app, provider = start_qgis_with_plugin()  # held: QGIS lives as long as this reference
    report: dict = {"algorithms": sorted(a.id() for a in provider.algorithms())}
    report["setting"] = setting_is_honoured(work)
    project = QgsProject.instance()

    imagery = QgsRasterLayer(raster, "imagery")
    project.addMapLayer(imagery)
    report["detect"] = run_algorithm("debrismap:detect", {"INPUT": raster, "OUTPUT": str(work / "run")},
                                     project, Feedback())
    report["layers"] = describe_layers(project)
    layers = [node.layer() for node in project.layerTreeRoot().findLayers()]  # top first, as drawn
    report["render"] = render(project, layers, work / "map.png")

    cancelled = Feedback(cancel_at=1.0)
    started = time.perf_counter()
    report["cancel"] = run_algorithm("debrismap:detect", {"INPUT": big_raster, "OUTPUT": str(work / "resumed"), "THREADS": 1},
                                     QgsProject(), cancelled)
    report["cancel"]["wall_s"] = round(time.perf_counter() - started, 2)
    report["cancel"]["processes_left"] = processes_writing_to(work / "resumed")
    report["cancel"]["run_json_after_cancel"] = json.loads((work / "resumed" / "run.json").read_text())["status"]
    report["resume"] = run_algorithm("debrismap:detect", {"INPUT": big_raster, "OUTPUT": str(work / "resumed"),
                                                          "RESUME": True, "THREADS": 1}, QgsProject(), Feedback())

    compare_project = QgsProject()
    report["compare"] = run_algorithm("debrismap:compare", {"BEFORE": str(work / "run"), "AFTER": str(work / "run"),
                                                            "OUTPUT": str(work / "change")}, compare_project, Feedback())
    report["compare_layers"] = describe_layers(compare_project)
    heatmap_project = QgsProject()
    report["heatmap"] = run_algorithm("debrismap:heatmap", {"RUN": str(work / "run"), "CELL": 50,
                                                            "OUTPUT": str(work / "heatmap50")},
                                      heatmap_project, Feedback())
    report["heatmap_layers"] = describe_layers(heatmap_project)
    print("DRIVER-REPORT " + json.dumps(report))
    sys.stdout.flush()
    os._exit(0)  # skip QGIS's teardown: it can crash at exit with Python objects still alive


if __name__ == "__main__":
    main()
