"""Make the README's QGIS screenshot: the Detect dialog beside the map it produces, both real.

Run with QGIS's Python, headless, on any raster (a synthetic city is what the README shows):

    QT_QPA_PLATFORM=offscreen PATH=/usr/bin:/bin DEBRISMAP_EXECUTABLE=$PWD/.venv/bin/debrismap \\
        /usr/bin/python3 qgis/make_screenshot.py city.tif /tmp/shot docs/qgis-detect.png

The dialog is QGIS's own Processing dialog for "Detect debris piles"; the map is rendered by
QgsMapRendererParallelJob from the layers the algorithm loaded, over the imagery.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the driver the qgis tests use: run + render helpers
import qgis_driver
from qgis.core import QgsApplication, QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QImage, QPainter


def main() -> None:
    raster, work, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    app = QgsApplication([], True)
    app.initQgis()
    from processing.core.Processing import Processing

    Processing.initialize()
    from debrismap_qgis.provider import DebrismapProvider

    provider = DebrismapProvider()  # held: the registry does not keep the Python object alive
    QgsApplication.processingRegistry().addProvider(provider)
    project = QgsProject.instance()
    project.addMapLayer(QgsRasterLayer(raster, Path(raster).stem))

    from processing.gui.AlgorithmDialog import AlgorithmDialog

    algorithm = QgsApplication.processingRegistry().createAlgorithmById("debrismap:detect")  # must outlive the dialog
    dialog = AlgorithmDialog(algorithm)
    dialog.resize(760, 900)
    dialog.show()
    for _ in range(20):
        app.processEvents()
    dialog_image = dialog.grab().toImage()

    result = qgis_driver.run_algorithm("debrismap:detect", {"INPUT": raster, "OUTPUT": str(work / "run")},
                                       project, qgis_driver.Feedback())
    if not result["ok"]:
        raise SystemExit(f"detect failed: {result['errors']}")
    layers = [node.layer() for node in project.layerTreeRoot().findLayers()]
    qgis_driver.render(project, layers, work / "map.png")
    map_image = QImage(str(work / "map.png"))

    gap = 12
    sheet = QImage(dialog_image.width() + gap + map_image.width(),
                   max(dialog_image.height(), map_image.height()), QImage.Format_RGB32)
    sheet.fill(Qt.white)
    painter = QPainter(sheet)
    painter.drawImage(0, 0, dialog_image)
    painter.drawImage(dialog_image.width() + gap, 0, map_image)
    painter.end()
    sheet.save(str(out), "PNG")
    print(f"wrote {out} ({sheet.width()} x {sheet.height()})")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
