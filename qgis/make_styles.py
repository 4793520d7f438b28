"""Write the plugin's layer styles (debrismap_qgis/qml/*.qml) with QGIS's own API.

Run with QGIS's Python after changing a colour in debrismap.aggregate.colours:

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 qgis/make_styles.py

The raster ramps are sampled from debrismap's colour functions (density_rgba, change_rgba)
for a scale top of 1; the plugin stretches them to each layer's top when it loads it.
tests/test_qgis_styles.py checks the committed files still match those functions.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))  # debrismap.aggregate.colours: numpy + matplotlib only

import numpy as np
from osgeo import gdal
from qgis.core import (
    QgsApplication,
    QgsBilinearRasterResampler,
    QgsCategorizedSymbolRenderer,
    QgsColorRampShader,
    QgsFillSymbol,
    QgsGraduatedSymbolRenderer,
    QgsRasterLayer,
    QgsRasterShader,
    QgsRendererCategory,
    QgsRendererRange,
    QgsSingleBandPseudoColorRenderer,
    QgsSingleSymbolRenderer,
    QgsVectorLayer,
)
from qgis.PyQt.QtGui import QColor

from debrismap.aggregate.colours import FADE_BELOW, change_rgba, density_rgba

OUT = HERE / "debrismap_qgis" / "qml"
# Dense near zero, where the transparency ramps up (below FADE_BELOW of the top).
DENSITY_STOPS = sorted({0.0, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.125, FADE_BELOW,
                        0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0})
CHANGE_STOPS = sorted({-s for s in DENSITY_STOPS} | set(DENSITY_STOPS))
# Boxes outlined by score: pale for doubtful, dark red for sure.
SCORE_CLASSES = [(0.0, 0.25, "#fee391"), (0.25, 0.5, "#fe9929"), (0.5, 0.75, "#d7301f"), (0.75, 1.0, "#7f0000")]
STATUS_COLOURS = {"new": "#d7301f", "gone": "#2c7bb6", "persisting": "#969696"}


def outline(colour: str, width_mm: float, dash: bool = False) -> QgsFillSymbol:
    return QgsFillSymbol.createSimple({
        "style": "no", "outline_color": colour, "outline_width": str(width_mm), "outline_width_unit": "MM",
        "outline_style": "dash" if dash else "solid", "joinstyle": "miter"})


def polygon_layer(fields: str) -> QgsVectorLayer:
    return QgsVectorLayer(f"Polygon?crs=EPSG:32637&{fields}", "style", "memory")


def save(layer, name: str) -> None:
    message, ok = layer.saveNamedStyle(str(OUT / f"{name}.qml"))
    if not ok:
        raise SystemExit(f"{name}: {message}")
    print(f"wrote {OUT / name}.qml")


def ramp_layer(stops, rgba, folder: Path, name: str) -> None:
    path = folder / f"{name}.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 2, 2, 1, gdal.GDT_Float32)
    ds.SetGeoTransform((0, 1, 0, 0, 0, -1))
    ds.GetRasterBand(1).WriteArray(np.array([[stops[0], stops[-1]], [0, 0]], dtype=np.float32))
    ds = None
    layer = QgsRasterLayer(str(path), name)
    items = [QgsColorRampShader.ColorRampItem(float(v), QColor(*(int(c) for c in colour)), f"{v:g}")
             for v, colour in zip(stops, rgba)]
    function = QgsColorRampShader(stops[0], stops[-1])
    function.setColorRampType(QgsColorRampShader.Interpolated)
    function.setClip(False)  # above the top: the top's colour, as in the figures
    function.setColorRampItemList(items)
    shader = QgsRasterShader()
    shader.setRasterShaderFunction(function)
    renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), 1, shader)
    renderer.setClassificationMin(stops[0])
    renderer.setClassificationMax(stops[-1])
    layer.setRenderer(renderer)
    # Density is a smooth surface: interpolate between its coarse cells instead of showing blocks.
    layer.resampleFilter().setZoomedInResampler(QgsBilinearRasterResampler())
    layer.resampleFilter().setZoomedOutResampler(QgsBilinearRasterResampler())
    save(layer, name)


def main() -> None:
    app = QgsApplication([], False)
    app.initQgis()
    OUT.mkdir(parents=True, exist_ok=True)

    detections = polygon_layer("field=score:double")
    ranges = [QgsRendererRange(lo, hi, outline(colour, 0.6), f"score {lo:.2f}–{hi:.2f}")
              for lo, hi, colour in SCORE_CLASSES]
    detections.setRenderer(QgsGraduatedSymbolRenderer("score", ranges))
    save(detections, "detections")

    coverage = polygon_layer("field=id:integer")
    coverage.setRenderer(QgsSingleSymbolRenderer(outline("#1f78b4", 0.5, dash=True)))
    save(coverage, "coverage")

    counts = polygon_layer("field=count:integer")
    counts.setRenderer(QgsSingleSymbolRenderer(outline("#808080", 0.15)))
    save(counts, "counts")

    change = polygon_layer("field=status:string")
    categories = [QgsRendererCategory(status, outline(colour, 0.6), status)
                  for status, colour in STATUS_COLOURS.items()]
    change.setRenderer(QgsCategorizedSymbolRenderer("status", categories))
    save(change, "change")

    with tempfile.TemporaryDirectory() as tmp:
        density = np.array(DENSITY_STOPS)
        ramp_layer(DENSITY_STOPS, density_rgba(density[None, :], 1.0)[0], Path(tmp), "density")
        change_values = np.array(CHANGE_STOPS)
        ramp_layer(CHANGE_STOPS, change_rgba(change_values[None, :], 1.0)[0], Path(tmp), "change_density")
    app.exitQgis()


if __name__ == "__main__":
    main()
