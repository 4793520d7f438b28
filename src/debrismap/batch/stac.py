"""STAC Items, ItemCollections and Catalogs on disk -> acquisitions (items grouped, one raster each).

Maxar's open-data catalogues cut one acquisition into many quadkey tiles, one Item each; they
belong in one run, so items are grouped by acquisition: `catalog_id` (Maxar's property) when
present, else platform + datetime. Each item contributes its `visual` asset (8-bit RGB, what
the model reads), else its `data` asset. The item's `gsd` is not used: detect takes the pixel
size from the raster itself, which is what the pixels really are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timezone
from pathlib import Path

import pystac

from debrismap.errors import ConfigError

ASSET_ROLES = ("visual", "data")  # in order of preference


@dataclass(frozen=True)
class StacAsset:
    item_id: str
    href: str  # a local path (resolved) or a URL GDAL can read
    datetime: str | None  # ISO 8601, UTC
    epsg: int | None  # from proj:code / proj:epsg, to group tiles that can share one VRT


@dataclass
class StacAcquisition:
    key: str  # catalog_id or platform_datetime: the run folder's name
    assets: list[StacAsset]

    @property
    def date(self) -> str | None:
        dates = sorted({a.datetime for a in self.assets if a.datetime})
        return dates[0] if dates else None


def is_stac_file(path: Path) -> bool:
    """A .json file whose top level says it is a STAC object (Feature / FeatureCollection / Catalog / Collection)."""
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    try:
        with open(path, encoding="utf-8") as handle:
            head = json.loads(handle.read())
    except (OSError, ValueError):
        return False
    return isinstance(head, dict) and head.get("type") in ("Feature", "FeatureCollection", "Catalog", "Collection")


def read_stac_items(path: Path) -> list:
    """Every Item of a STAC file on disk (an Item, an ItemCollection, or a Catalog/Collection walked recursively)."""

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        kind = data.get("type")
        if kind == "FeatureCollection":
            return list(pystac.ItemCollection.from_dict(data, preserve_dict=False))
        obj = pystac.read_file(str(path.resolve()))
    except (OSError, ValueError, KeyError, TypeError, pystac.STACError) as exc:
        raise ConfigError(f"not a readable STAC file ({type(exc).__name__}: {exc})", path=path) from exc
    if isinstance(obj, pystac.Item):
        return [obj]
    if isinstance(obj, pystac.Catalog):  # Collections are Catalogs
        try:
            return list(obj.get_items(recursive=True))
        except (OSError, ValueError, pystac.STACError) as exc:
            raise ConfigError(f"cannot walk the STAC catalog ({exc})", path=path) from exc
    raise ConfigError(f"holds a STAC {type(obj).__name__}, not Items", path=path)


def _asset_href(item, asset, base: Path) -> str:
    href = asset.get_absolute_href() or asset.href
    if "://" in href:
        # GDAL reads http(s) and cloud URLs itself, range request by range request; nothing is
        # downloaded up front.
        return href if not href.startswith(("http://", "https://")) else f"/vsicurl/{href}"
    path = Path(href)
    return str(path if path.is_absolute() else (base / path).resolve())


def _iso_utc(item) -> str | None:
    when = item.datetime or item.common_metadata.start_datetime
    if when is None:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    return when.isoformat(timespec="seconds") + "Z"


def _epsg(item) -> int | None:
    props = item.properties
    code = props.get("proj:code")
    if isinstance(code, str) and code.upper().startswith("EPSG:"):
        return int(code.split(":", 1)[1])
    epsg = props.get("proj:epsg")
    return int(epsg) if epsg is not None else None


def _acquisition_key(item) -> str:
    props = item.properties
    if props.get("catalog_id"):
        return str(props["catalog_id"])
    platform = props.get("platform") or props.get("constellation") or "acquisition"
    when = _iso_utc(item) or item.id
    return f"{platform}_{when}"


def group_stac(path: Path) -> list[StacAcquisition]:
    """The acquisitions in a STAC file, each with its items' raster assets, in a stable order."""
    items = read_stac_items(path)
    if not items:
        raise ConfigError("STAC file holds no Items", path=path)
    groups: dict[str, list[StacAsset]] = {}
    base = path.resolve().parent
    for item in items:
        asset = next((a for role in ASSET_ROLES for a in item.assets.values() if role in (a.roles or [])), None)
        if asset is None:
            raise ConfigError(f"STAC item {item.id!r} has no asset with role {' or '.join(ASSET_ROLES)}", path=path)
        groups.setdefault(_acquisition_key(item), []).append(
            StacAsset(item.id, _asset_href(item, asset, base), _iso_utc(item), _epsg(item))
        )
    return [StacAcquisition(key, sorted(assets, key=lambda a: a.item_id)) for key, assets in sorted(groups.items())]
