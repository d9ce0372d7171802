"""Layer tar I/O: compression, one-pass writing and reading, OCI whiteouts, safe extraction.

- :func:`write_layer_from_dir` / :func:`write_layer` write a tree (or entries) as a PAX
  tar, compressed (gzip, zstd or none) into any writer, computing ``digest``, ``diff_id``
  and both sizes in the same pass (:class:`LayerInfo`); ``mtime_clamp`` (see
  :func:`source_date_epoch`) and a fixed gzip header make the output reproducible.
- :func:`open_layer` reads a layer in one pass (:class:`LayerReader`), detecting the
  compression by magic bytes and checking it against the media type, verifying the
  blob digest.
- :func:`extract_layer` / :func:`extract_layers` unpack layers into a directory,
  applying whiteouts (``.wh.<name>``, ``.wh..wh..opq``) and never following a symlink.
- :class:`BlobLayer` / :class:`BlobImage` / :class:`BlobIndex`: images and layers read
  lazily from any blob opener (the store, a layout, an archive), verified as read.
- :class:`Differ` (the seam) and :class:`OverlayDiffer`: an overlayfs upper dir, tidied
  of what is no change (:meth:`~OverlayDiffer.drop_unchanged`), written as a layer
  (:func:`diff_upper`), its deletion and opaque-dir markers turned into OCI whiteouts.
- :func:`ingest_layer`: the one way a new layer becomes a blob -- a writer streams it into
  a store ingest, committed only when its digest and size check out.
- :class:`FsView` is the one filesystem view of an image, nothing unpacked: the merged
  filesystem (path -> :class:`FsNode`, with its layer of origin) from one header pass
  per layer, what each layer changed (:class:`LayerDiff`, for ``analyze``), content read
  in one pass per layer (for ``sbom``), and every entry of every layer with its content,
  deleted and overwritten ones included (:meth:`FsView.every_entry`, for scanners).
  :func:`flatten` and :func:`walk_layers` are its two passes as functions.
- :func:`resolve_in_root` / :func:`resolve_in_view` are the one in-root path resolver
  (securejoin semantics) over a directory on disk or any view of a root filesystem.

The tar, whiteout and extraction code is written here rather than delegated to
``tarfile.extractall``: its filters do not give OCI whiteouts, resolution of every path
inside the target through directory descriptors, and digests computed in the same
streaming pass, together. ``tarfile`` is used only to encode and decode headers.
"""

from typing import TYPE_CHECKING

from imageforge._lazy import lazy_names
from imageforge.layers._blob import (
    MAX_DOCUMENT,
    BlobImage,
    BlobIndex,
    BlobLayer,
    Opener,
    open_image_or_index,
    read_verified,
)
from imageforge.layers._compression import detect_compression, new_compressor, open_decompressed
from imageforge.layers._ingest import LayerBlobs, LayerWriter, ingest_layer
from imageforge.layers._model import (
    Compression,
    Entry,
    EntryType,
    LayerInfo,
    media_type_for,
    normalize_path,
)
from imageforge.layers._read import LayerReader, open_layer
from imageforge.layers._whiteout import (
    OPAQUE_WHITEOUT,
    WHITEOUT_PREFIX,
    Whiteout,
    WhiteoutKind,
    opaque_whiteout_entry,
    parse_whiteout,
    whiteout_entry,
)
from imageforge.layers._write import (
    ContentSource,
    source_date_epoch,
    tree_entries,
    write_layer,
    write_layer_from_dir,
)

if TYPE_CHECKING:
    from imageforge.layers._differ import (
        OVERLAY_OPAQUE_XATTR,
        USERNS_OVERLAY_OPAQUE_XATTR,
        Differ,
        OverlayDiffer,
        diff_upper,
        upper_entries,
    )
    from imageforge.layers._extract import (
        ExtractResult,
        LayerSource,
        Skipped,
        extract_layer,
        extract_layers,
    )
    from imageforge.layers._fsview import (
        IN_MEMORY_LIMIT,
        BadLayer,
        FsView,
        LayerFile,
        flatten,
        walk_layers,
    )
    from imageforge.layers._inroot import (
        MAX_SYMLINKS,
        Lookup,
        PathNode,
        mkdirs_in_root,
        resolve_in_root,
        resolve_in_view,
        root_lookup,
    )
    from imageforge.layers._merge import (
        FsNode,
        LayerDiff,
        Merger,
        check_diff_id,
        layer_entries,
        layer_name,
        read_layer,
    )

# Loaded on first use: the differ, extraction, the filesystem view and the in-root
# resolver are for builds, runs and scanners; a command that only reads or stores
# layers (import, export, pull, push) starts without them.
_WHERE = {
    "OVERLAY_OPAQUE_XATTR": "_differ",
    "USERNS_OVERLAY_OPAQUE_XATTR": "_differ",
    "Differ": "_differ",
    "OverlayDiffer": "_differ",
    "diff_upper": "_differ",
    "upper_entries": "_differ",
    "ExtractResult": "_extract",
    "LayerSource": "_extract",
    "Skipped": "_extract",
    "extract_layer": "_extract",
    "extract_layers": "_extract",
    "IN_MEMORY_LIMIT": "_fsview",
    "BadLayer": "_fsview",
    "FsView": "_fsview",
    "LayerFile": "_fsview",
    "flatten": "_fsview",
    "walk_layers": "_fsview",
    "MAX_SYMLINKS": "_inroot",
    "Lookup": "_inroot",
    "PathNode": "_inroot",
    "mkdirs_in_root": "_inroot",
    "resolve_in_root": "_inroot",
    "resolve_in_view": "_inroot",
    "root_lookup": "_inroot",
    "FsNode": "_merge",
    "LayerDiff": "_merge",
    "Merger": "_merge",
    "check_diff_id": "_merge",
    "layer_entries": "_merge",
    "layer_name": "_merge",
    "read_layer": "_merge",
}

__all__ = [
    "IN_MEMORY_LIMIT",
    "MAX_DOCUMENT",
    "MAX_SYMLINKS",
    "OVERLAY_OPAQUE_XATTR",
    "USERNS_OVERLAY_OPAQUE_XATTR",
    "Differ",
    "OverlayDiffer",
    "diff_upper",
    "ingest_layer",
    "LayerBlobs",
    "LayerWriter",
    "upper_entries",
    "BadLayer",
    "BlobImage",
    "BlobIndex",
    "BlobLayer",
    "Opener",
    "open_image_or_index",
    "read_verified",
    "OPAQUE_WHITEOUT",
    "WHITEOUT_PREFIX",
    "Compression",
    "ContentSource",
    "Entry",
    "EntryType",
    "ExtractResult",
    "FsNode",
    "FsView",
    "LayerFile",
    "LayerInfo",
    "LayerDiff",
    "LayerReader",
    "LayerSource",
    "Lookup",
    "Merger",
    "PathNode",
    "Skipped",
    "Whiteout",
    "WhiteoutKind",
    "check_diff_id",
    "detect_compression",
    "extract_layer",
    "extract_layers",
    "flatten",
    "layer_entries",
    "layer_name",
    "media_type_for",
    "mkdirs_in_root",
    "new_compressor",
    "normalize_path",
    "opaque_whiteout_entry",
    "open_decompressed",
    "open_layer",
    "parse_whiteout",
    "read_layer",
    "resolve_in_root",
    "resolve_in_view",
    "root_lookup",
    "source_date_epoch",
    "tree_entries",
    "walk_layers",
    "whiteout_entry",
    "write_layer",
    "write_layer_from_dir",
]


__getattr__, __dir__ = lazy_names(__name__, _WHERE, globals())
