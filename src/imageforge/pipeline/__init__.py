"""The composing layer: what takes more than one package below it -- resolve, pull,
push, copy, build, SBOM, prune -- done once here, so the CLI only parses flags, calls one
function and renders, and a library user does the same without it.

- :class:`Session`: one caller's access to images -- the store (opened on first use),
  one registry client, every transport; ``open``/``opened`` read any
  :data:`Location`, ``write`` writes to any, a registry included.
- :func:`parse_location` reads every spelling of where an image is: ``docker://REF``,
  ``oci:DIR[:TAG]``, ``oci-archive:FILE[:TAG]``, ``docker-archive:FILE[:NAME]``,
  ``rootfs:DIR|TAR``, a store name; :func:`find_image` / :func:`open_image` add store
  IDs (:func:`find_in_store`); :func:`image_for_platform` is which image of an index
  every command reads.
- :func:`pull` (registry -> store), :func:`copy` (any -> any; blobs mounted between two
  repositories of one registry), :func:`import_image` / :func:`export_image` (into the
  store under names given, out of it under the image's own tag).
- :class:`FromResolver`: the builder's ``FROM`` (and ``run IMAGE``), pulling a
  registry image that is not in the store yet.
- :func:`build`: the builder with that resolver, the build cache imported and exported
  (:func:`import_build_cache`, :func:`export_build_cache`, an OCI layout through the
  transports) and the result named and written to its outputs; several ``platforms``
  make one build each and an OCI index of them.
- manifest lists (:func:`manifest_create`, :func:`manifest_add`,
  :func:`manifest_remove`, :func:`open_list`): an index in the store joining images
  built separately.
- :func:`sbom` of a directory or an image (:func:`directory_target` tells them apart);
  :func:`scan` of those or of ``sbom:FILE`` against the vulnerability database;
  :func:`prune` of unnamed blobs and of unpacked layers no image uses
  (:func:`prune_snapshots`).
- the lifecycle of ``[environments]`` in the policy file: :func:`evaluate_gates` (an
  environment's gates on an image by digest, every image of an index), :func:`promote`
  (gates, copy with referrers, a signed promotion record of :data:`PROMOTION_TYPE`;
  :class:`GatesFailed` names the gates that refused) and :func:`retire` (archive with
  referrers, then delete at the registry or in the store and prune); :func:`ship`
  (lint, build, analyze, SBOM, scan, sign, attest, push into the first environment,
  stopping at the first stage that fails, one :class:`ShipReport`).
- :func:`sign_image` / :func:`verify_image`: cosign's key-based signatures of a
  registry image, in the legacy ``.sig`` tag or as OCI 1.1 referrers (:data:`MODES`);
  :func:`attest_image` / :func:`verify_attestations`: in-toto statements in DSSE
  envelopes beside them (``.att``), checked against a key and an attestation policy;
  :func:`signed_build`: a build whose pushed outputs (and store names) get signed
  provenance, an SBOM and a signature. Each works on a registry image or, given a
  store location, on the store, which keeps them as a registry does; :func:`pull`,
  :func:`copy`, :func:`import_image` and :func:`export_image` carry them between
  registries, the store and OCI layouts (``_sign_repos``, ``_sign_copy``).

Names are loaded on first use, so a command pays only for the packages it needs (the
builder is not imported for ``pull``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from imageforge._lazy import lazy_names

if TYPE_CHECKING:
    from imageforge.pipeline._base import FromResolver
    from imageforge.pipeline._build import Built, build, target_platforms
    from imageforge.pipeline._build_cache import (
        CACHE_ARTIFACT,
        CACHE_TAG,
        CacheLocation,
        export_build_cache,
        import_build_cache,
        parse_cache_location,
    )
    from imageforge.pipeline._copy import (
        Exported,
        Imported,
        Pulled,
        copy,
        export_image,
        import_image,
        pull,
    )
    from imageforge.pipeline._gates import GateOutcome, VulnGate, evaluate_gates
    from imageforge.pipeline._location import (
        DOCKER,
        Location,
        location_text,
        names_registry,
        parse_location,
        remote_ref,
        store_name,
    )
    from imageforge.pipeline._lookup import (
        Found,
        NamedImage,
        find_image,
        find_in_store,
        image_for_platform,
        index_platforms,
        open_image,
    )
    from imageforge.pipeline._manifest import (
        ListEntry,
        manifest_add,
        manifest_create,
        manifest_remove,
        open_list,
    )
    from imageforge.pipeline._promote import PROMOTION_TYPE, GatesFailed, Promotion, promote
    from imageforge.pipeline._proxy_upstream import HttpUpstream
    from imageforge.pipeline._prune import Pruned, prune, prune_snapshots
    from imageforge.pipeline._registry_replicator import RegistryReplicator
    from imageforge.pipeline._registry_scanner import RegistryScanner
    from imageforge.pipeline._registry_verifier import RegistrySignatures
    from imageforge.pipeline._rescan import ImageRescan, Rescan, rescan_store
    from imageforge.pipeline._retire import Retired, retire
    from imageforge.pipeline._sbom import directory_target, sbom
    from imageforge.pipeline._scan import SBOM, scan
    from imageforge.pipeline._session import PULL_JOBS, Session
    from imageforge.pipeline._ship import STAGE_EXIT_CODES, STAGES, ShipReport, Stage, ship
    from imageforge.pipeline._sign import (
        Signed,
        VerifiedImage,
        VerifiedSignature,
        key_signer,
        key_verifier,
        public_key,
        sign_image,
        verify_image,
    )
    from imageforge.pipeline._sign_attest import (
        VerifiedAttestation,
        VerifiedAttestations,
        attest_image,
        load_policy,
        load_predicate,
        verify_attestations,
    )
    from imageforge.pipeline._sign_build import Attest, SignedBuild, signed_build
    from imageforge.pipeline._sign_copy import Carried
    from imageforge.pipeline._sign_modes import LEGACY, MODES, OCI_1_1

_WHERE = {
    "FromResolver": "_base",
    "Built": "_build",
    "build": "_build",
    "target_platforms": "_build",
    "CACHE_ARTIFACT": "_build_cache",
    "CACHE_TAG": "_build_cache",
    "export_build_cache": "_build_cache",
    "import_build_cache": "_build_cache",
    "parse_cache_location": "_build_cache",
    "CacheLocation": "_build_cache",
    "Exported": "_copy",
    "Imported": "_copy",
    "Pulled": "_copy",
    "export_image": "_copy",
    "import_image": "_copy",
    "copy": "_copy",
    "pull": "_copy",
    "DOCKER": "_location",
    "Location": "_location",
    "location_text": "_location",
    "names_registry": "_location",
    "parse_location": "_location",
    "remote_ref": "_location",
    "store_name": "_location",
    "Found": "_lookup",
    "NamedImage": "_lookup",
    "find_image": "_lookup",
    "find_in_store": "_lookup",
    "open_image": "_lookup",
    "image_for_platform": "_lookup",
    "index_platforms": "_lookup",
    "ListEntry": "_manifest",
    "manifest_add": "_manifest",
    "manifest_create": "_manifest",
    "manifest_remove": "_manifest",
    "open_list": "_manifest",
    "GateOutcome": "_gates",
    "VulnGate": "_gates",
    "evaluate_gates": "_gates",
    "PROMOTION_TYPE": "_promote",
    "GatesFailed": "_promote",
    "Promotion": "_promote",
    "promote": "_promote",
    "ImageRescan": "_rescan",
    "Rescan": "_rescan",
    "rescan_store": "_rescan",
    "Retired": "_retire",
    "retire": "_retire",
    "Pruned": "_prune",
    "prune": "_prune",
    "prune_snapshots": "_prune",
    "HttpUpstream": "_proxy_upstream",
    "RegistryReplicator": "_registry_replicator",
    "RegistryScanner": "_registry_scanner",
    "RegistrySignatures": "_registry_verifier",
    "directory_target": "_sbom",
    "sbom": "_sbom",
    "SBOM": "_scan",
    "scan": "_scan",
    "STAGES": "_ship",
    "STAGE_EXIT_CODES": "_ship",
    "ShipReport": "_ship",
    "Stage": "_ship",
    "ship": "_ship",
    "PULL_JOBS": "_session",
    "Session": "_session",
    "Signed": "_sign",
    "VerifiedImage": "_sign",
    "VerifiedSignature": "_sign",
    "key_signer": "_sign",
    "key_verifier": "_sign",
    "public_key": "_sign",
    "sign_image": "_sign",
    "verify_image": "_sign",
    "VerifiedAttestation": "_sign_attest",
    "VerifiedAttestations": "_sign_attest",
    "attest_image": "_sign_attest",
    "load_policy": "_sign_attest",
    "load_predicate": "_sign_attest",
    "verify_attestations": "_sign_attest",
    "Attest": "_sign_build",
    "SignedBuild": "_sign_build",
    "signed_build": "_sign_build",
    "Carried": "_sign_copy",
    "LEGACY": "_sign_modes",
    "MODES": "_sign_modes",
    "OCI_1_1": "_sign_modes",
}

__all__ = [
    "Attest",
    "Built",
    "Carried",
    "CACHE_ARTIFACT",
    "CACHE_TAG",
    "DOCKER",
    "Exported",
    "Found",
    "FromResolver",
    "GateOutcome",
    "GatesFailed",
    "Imported",
    "ListEntry",
    "Location",
    "NamedImage",
    "PROMOTION_TYPE",
    "PULL_JOBS",
    "Promotion",
    "Retired",
    "ImageRescan",
    "Rescan",
    "VulnGate",
    "SBOM",
    "Pruned",
    "Pulled",
    "HttpUpstream",
    "RegistryReplicator",
    "RegistryScanner",
    "RegistrySignatures",
    "STAGES",
    "STAGE_EXIT_CODES",
    "Session",
    "ShipReport",
    "Signed",
    "Stage",
    "SignedBuild",
    "VerifiedAttestation",
    "VerifiedAttestations",
    "VerifiedImage",
    "VerifiedSignature",
    "LEGACY",
    "MODES",
    "OCI_1_1",
    "attest_image",
    "build",
    "copy",
    "directory_target",
    "export_build_cache",
    "parse_cache_location",
    "CacheLocation",
    "evaluate_gates",
    "export_image",
    "find_image",
    "find_in_store",
    "image_for_platform",
    "import_build_cache",
    "import_image",
    "index_platforms",
    "key_signer",
    "key_verifier",
    "load_policy",
    "load_predicate",
    "location_text",
    "manifest_add",
    "manifest_create",
    "manifest_remove",
    "names_registry",
    "open_image",
    "open_list",
    "parse_location",
    "promote",
    "rescan_store",
    "prune",
    "prune_snapshots",
    "public_key",
    "pull",
    "remote_ref",
    "retire",
    "sbom",
    "scan",
    "ship",
    "sign_image",
    "signed_build",
    "store_name",
    "target_platforms",
    "verify_attestations",
    "verify_image",
]


__getattr__, __dir__ = lazy_names(__name__, _WHERE, globals())
