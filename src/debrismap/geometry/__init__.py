"""Geometry shared by every side: box IoU and overlap search, CRS names and reprojection.

One home for each, so detect's NMS, evaluation's matching, export's parity check and the
heatmap's grid agree on what an overlap, a CRS label and a reprojected polygon are.
Pixel <-> world for one raster lives with the raster (`debrismap.raster.geometry`).
"""
