"""The Processing algorithms: each builds one `debrismap` command line, runs it, loads its files."""

from __future__ import annotations

import os

from qgis.core import (
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingOutputRasterLayer,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QCoreApplication

from .runner import DebrismapCommandError, run_command
from .settings import debrismap_executable
from .styles import load_on_completion

DEVICES = ["cpu", "cuda"]


class DebrismapAlgorithm(QgsProcessingAlgorithm):
    """What every debrismap algorithm shares: running the command and reporting its error."""

    def tr(self, text):
        return QCoreApplication.translate("debrismap", text)

    def createInstance(self):
        return type(self)()

    def helpUrl(self):
        return ""

    def run_debrismap(self, args: list[str], feedback) -> list[str]:
        try:
            return run_command(debrismap_executable(), args, feedback)
        except DebrismapCommandError as exc:
            raise QgsProcessingException(str(exc)) from None

    def folder_parameter(self, name: str, description: str, optional: bool = False):
        return QgsProcessingParameterFile(name, self.tr(description), QgsProcessingParameterFile.Folder,
                                          optional=optional)

    def number(self, parameters, name: str, context):
        """A number parameter (or its default) as text for the command line; None when empty."""
        if parameters.get(name) in (None, "") and self.parameterDefinition(name).defaultValue() is None:
            return None
        return repr(self.parameterAsDouble(parameters, name, context))


def _advanced(parameter):
    parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    return parameter


class DetectPiles(DebrismapAlgorithm):
    INPUT, AOI, EXCLUDE, MODEL, DEVICE, SCORE, RESUME, THREADS, OUTPUT = (
        "INPUT", "AOI", "EXCLUDE", "MODEL", "DEVICE", "SCORE", "RESUME", "THREADS", "OUTPUT")

    def name(self):
        return "detect"

    def displayName(self):
        return self.tr("Detect debris piles")

    def shortHelpString(self):
        return self.tr(
            "Finds debris piles in very-high-resolution imagery (0.3-0.7 m) with an ONNX detector "
            "(`debrismap detect`), then maps their density (`debrismap heatmap`). Loads the detections "
            "(outlined by score), the density (piles per km2) and the ground actually analysed.\n\n"
            "A cancelled run keeps its folder: run again into the same folder with "
            "'Resume an interrupted run' to continue where it stopped.")

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Imagery (raster layer or file)")))
        for name, label in ((self.AOI, "Area of interest"), (self.EXCLUDE, "Areas to leave out")):
            self.addParameter(QgsProcessingParameterFeatureSource(
                name, self.tr(label), [QgsProcessing.TypeVectorPolygon], optional=True))
        self.addParameter(QgsProcessingParameterFile(
            self.MODEL, self.tr("Model (ONNX; empty: the bundled model)"), extension="onnx", optional=True))
        self.addParameter(QgsProcessingParameterEnum(self.DEVICE, self.tr("Device"), DEVICES, defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            self.SCORE, self.tr("Score threshold (empty: the model's)"), QgsProcessingParameterNumber.Double,
            optional=True, minValue=0.0, maxValue=1.0))
        self.addParameter(QgsProcessingParameterBoolean(
            self.RESUME, self.tr("Resume an interrupted run in the output folder"), defaultValue=False))
        self.addParameter(_advanced(QgsProcessingParameterNumber(
            self.THREADS, self.tr("Model threads (empty: all physical cores)"), QgsProcessingParameterNumber.Integer,
            optional=True, minValue=1)))
        self.addParameter(QgsProcessingParameterFolderDestination(self.OUTPUT, self.tr("Run folder")))
        self.addOutput(QgsProcessingOutputVectorLayer("DETECTIONS", self.tr("Detections")))
        self.addOutput(QgsProcessingOutputVectorLayer("COVERAGE", self.tr("Ground analysed")))
        self.addOutput(QgsProcessingOutputRasterLayer("DENSITY", self.tr("Density (piles per km2)")))

    def file_given(self, parameters) -> str | None:
        value = parameters.get(self.INPUT)
        return value if isinstance(value, str) and os.path.isfile(value) else None

    def checkParameterValues(self, parameters, context):
        # A file QGIS cannot open as a raster still goes to debrismap, whose one-line error says
        # what is wrong with it (QGIS would only say "could not load source layer ... not found").
        if self.file_given(parameters) is None:
            return super().checkParameterValues(parameters, context)
        for definition in self.parameterDefinitions():
            name = definition.name()
            if name != self.INPUT and not definition.checkValueIsAcceptable(parameters.get(name), context):
                return False, self.tr(f"Incorrect parameter value for {name}")
        return True, ""

    def raster_path(self, parameters, context) -> str:
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if layer is None or not layer.isValid():
            given = self.file_given(parameters)
            if given is None:
                raise QgsProcessingException(self.tr("no imagery given"))
            return given
        if layer.providerType() != "gdal":
            raise QgsProcessingException(
                self.tr(f"{layer.name()}: debrismap reads raster files; save this layer to a GeoTIFF first"))
        return layer.source()

    def vector_path(self, parameters, name, context, feedback) -> str | None:
        if parameters.get(name) in (None, ""):
            return None
        return self.parameterAsCompatibleSourceLayerPath(
            parameters, name, context, ["gpkg", "geojson", "shp"], "gpkg", feedback)

    def processAlgorithm(self, parameters, context, feedback):
        out = self.parameterAsString(parameters, self.OUTPUT, context)
        args = ["detect", self.raster_path(parameters, context), "--out", out,
                "--device", DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)]]
        for name, flag in ((self.AOI, "--aoi"), (self.EXCLUDE, "--exclude")):
            path = self.vector_path(parameters, name, context, feedback)
            if path:
                args += [flag, path]
        model = self.parameterAsFile(parameters, self.MODEL, context)
        if model:
            args += ["--model", model]
        score = self.number(parameters, self.SCORE, context)
        if score is not None:
            args += ["--score", score]
        if parameters.get(self.THREADS) not in (None, ""):
            args += ["--threads", str(self.parameterAsInt(parameters, self.THREADS, context))]
        if self.parameterAsBoolean(parameters, self.RESUME, context):
            args.append("--resume")
        self.run_debrismap(args, feedback)
        files = {key: os.path.join(out, name) for key, name in
                 (("DETECTIONS", "detections.gpkg"), ("COVERAGE", "coverage.gpkg"), ("DENSITY", "density.tif"))}
        load_on_completion(context, files["COVERAGE"], "ground analysed", "coverage", output_name="COVERAGE")
        load_on_completion(context, files["DENSITY"], "debris density (piles/km²)", "density", scale="density",
                           output_name="DENSITY")
        load_on_completion(context, files["DETECTIONS"], "debris piles", "detections", output_name="DETECTIONS")
        return {self.OUTPUT: out, **{k: v for k, v in files.items() if os.path.exists(v)}}


class DensityHeatmap(DebrismapAlgorithm):
    RUN, CELL, BANDWIDTH, TITLE, CREDIT, OUTPUT = "RUN", "CELL", "BANDWIDTH", "TITLE", "CREDIT", "OUTPUT"

    def name(self):
        return "heatmap"

    def displayName(self):
        return self.tr("Density heatmap")

    def shortHelpString(self):
        return self.tr(
            "Maps the density of a detect run's piles (`debrismap heatmap`): counts per grid cell, a "
            "density raster in piles per km2, the figure for print (heatmap.png) and a low / central / "
            "high count. Loads the density and the grid counts.")

    def initAlgorithm(self, config=None):
        self.addParameter(self.folder_parameter(self.RUN, "Run folder (written by Detect debris piles)"))
        self.addParameter(QgsProcessingParameterNumber(
            self.CELL, self.tr("Grid cell (m)"), QgsProcessingParameterNumber.Double, 100.0, minValue=1.0))
        self.addParameter(QgsProcessingParameterNumber(
            self.BANDWIDTH, self.tr("Kernel bandwidth (m)"), QgsProcessingParameterNumber.Double, 75.0, minValue=1.0))
        self.addParameter(QgsProcessingParameterString(self.TITLE, self.tr("Figure title"), optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.CREDIT, self.tr("Imagery credit, e.g. © Airbus DS 2023"), optional=True))
        self.addParameter(QgsProcessingParameterFolderDestination(
            self.OUTPUT, self.tr("Output folder (empty: the run folder)"), optional=True, createByDefault=False))
        self.addOutput(QgsProcessingOutputRasterLayer("DENSITY", self.tr("Density (piles per km2)")))
        self.addOutput(QgsProcessingOutputVectorLayer("COUNTS", self.tr("Counts per cell")))

    def processAlgorithm(self, parameters, context, feedback):
        run_dir = self.parameterAsFile(parameters, self.RUN, context)
        out = self.parameterAsString(parameters, self.OUTPUT, context) or run_dir
        args = ["heatmap", run_dir, "--out", out,
                "--cell", self.number(parameters, self.CELL, context),
                "--bandwidth", self.number(parameters, self.BANDWIDTH, context)]
        for name, flag in ((self.TITLE, "--title"), (self.CREDIT, "--credit")):
            text = self.parameterAsString(parameters, name, context)
            if text:
                args += [flag, text]
        self.run_debrismap(args, feedback)
        files = {"COUNTS": os.path.join(out, "counts.gpkg"), "DENSITY": os.path.join(out, "density.tif")}
        load_on_completion(context, files["DENSITY"], "debris density (piles/km²)", "density", scale="density",
                           output_name="DENSITY")
        load_on_completion(context, files["COUNTS"], "debris counts per cell", "counts", output_name="COUNTS")
        return {self.OUTPUT: out, **{k: v for k, v in files.items() if os.path.exists(v)}}


class CompareRuns(DebrismapAlgorithm):
    BEFORE, AFTER, MATCH, CELL, OUTPUT = "BEFORE", "AFTER", "MATCH_DISTANCE", "CELL", "OUTPUT"

    def name(self):
        return "compare"

    def displayName(self):
        return self.tr("Compare two runs")

    def shortHelpString(self):
        return self.tr(
            "Which debris piles are new, gone or persisting between two runs of the same place "
            "(`debrismap compare`), matched one to one within a distance, on ground both runs analysed. "
            "Loads the piles coloured by status and the change in density (new minus gone per km2).")

    def initAlgorithm(self, config=None):
        self.addParameter(self.folder_parameter(self.BEFORE, "Run folder of the earlier date"))
        self.addParameter(self.folder_parameter(self.AFTER, "Run folder of the later date"))
        self.addParameter(QgsProcessingParameterNumber(
            self.MATCH, self.tr("Largest distance between one pile on both dates (m)"),
            QgsProcessingParameterNumber.Double, 5.0, minValue=0.0))
        self.addParameter(QgsProcessingParameterNumber(
            self.CELL, self.tr("Grid cell (m)"), QgsProcessingParameterNumber.Double, 100.0, minValue=1.0))
        self.addParameter(QgsProcessingParameterFolderDestination(self.OUTPUT, self.tr("Output folder")))
        self.addOutput(QgsProcessingOutputVectorLayer("CHANGE", self.tr("Piles by status")))
        self.addOutput(QgsProcessingOutputRasterLayer("CHANGE_DENSITY", self.tr("Change in density")))

    def processAlgorithm(self, parameters, context, feedback):
        out = self.parameterAsString(parameters, self.OUTPUT, context)
        args = ["compare", self.parameterAsFile(parameters, self.BEFORE, context),
                self.parameterAsFile(parameters, self.AFTER, context), "--out", out,
                "--match-distance", self.number(parameters, self.MATCH, context),
                "--cell", self.number(parameters, self.CELL, context)]
        self.run_debrismap(args, feedback)
        files = {"CHANGE": os.path.join(out, "change.gpkg"),
                 "CHANGE_DENSITY": os.path.join(out, "change_density.tif")}
        load_on_completion(context, files["CHANGE_DENSITY"], "change in density (piles/km²)", "change_density",
                           scale="change", output_name="CHANGE_DENSITY")
        load_on_completion(context, files["CHANGE"], "piles: new, gone, persisting", "change", output_name="CHANGE")
        return {self.OUTPUT: out, **{k: v for k, v in files.items() if os.path.exists(v)}}


class Timeline(DebrismapAlgorithm):
    RUNS, MATCH, CELL, OUTPUT = "RUNS", "MATCH_DISTANCE", "CELL", "OUTPUT"

    def name(self):
        return "timeline"

    def displayName(self):
        return self.tr("Timeline of piles")

    def shortHelpString(self):
        return self.tr(
            "When did the piles appear: follows piles across the runs of many acquisitions of one place "
            "(`debrismap timeline`) and dates each one. Give a batch folder, or run folders one per line. "
            "Loads the piles coloured by the date they were first seen.")

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterString(
            self.RUNS, self.tr("Batch folder, or run folders one per line"), multiLine=True))
        self.addParameter(QgsProcessingParameterNumber(
            self.MATCH, self.tr("Largest distance between one pile on two dates (m, empty: debrismap's default)"),
            QgsProcessingParameterNumber.Double, optional=True, minValue=0.0))
        self.addParameter(QgsProcessingParameterNumber(
            self.CELL, self.tr("Grid cell (m, empty: debrismap's default)"), QgsProcessingParameterNumber.Double,
            optional=True, minValue=1.0))
        self.addParameter(QgsProcessingParameterFolderDestination(self.OUTPUT, self.tr("Output folder")))
        self.addOutput(QgsProcessingOutputVectorLayer("PILES", self.tr("Piles by first-seen date")))

    def processAlgorithm(self, parameters, context, feedback):
        out = self.parameterAsString(parameters, self.OUTPUT, context)
        runs = [line.strip() for line in self.parameterAsString(parameters, self.RUNS, context).splitlines()
                if line.strip()]
        if not runs:
            raise QgsProcessingException(self.tr("no run folders given"))
        args = ["timeline", *runs, "--out", out]
        for name, flag in ((self.MATCH, "--match-distance"), (self.CELL, "--cell")):
            value = self.number(parameters, name, context)
            if value is not None:
                args += [flag, value]
        self.run_debrismap(args, feedback)
        piles = os.path.join(out, "piles.gpkg")
        load_on_completion(context, piles, "piles by first-seen date", None, field="first_seen", output_name="PILES")
        return {self.OUTPUT: out, **({"PILES": piles} if os.path.exists(piles) else {})}
