"""What ``imageforge --help`` says of each command: the first sentence of its help, kept
here so that listing the commands imports none of their modules (importing them all costs
a second of CPU, most of it the registry server, the builder and the scanners).
``tests/cli/test_app.py`` checks each against the command's own help."""

from __future__ import annotations

__all__ = ["SUMMARIES"]

SUMMARIES: dict[str, str] = {
    "analyze": "Show what each layer of IMAGE adds, what is wasted and which step wasted it.",
    "attest": (
        "Attest PREDICATE about the registry image [docker://]IMAGE as ``cosign attest --key`` "
        "does: an in-toto statement naming the image's digest, signed in a DSSE envelope, stored "
        "in the .att tag or as an OCI 1.1 referrer."
    ),
    "bootstrap": "Make base images without a registry: busybox, debian.",
    "build": (
        "Build an image from a Dockerfile, with no daemon: each RUN runs in runc/crun over an "
        "overlay snapshot (within --memory, --cpus, --pids-limit when given)."
    ),
    "context": (
        "Measure the build context DIR before and after .dockerignore, list its biggest and "
        "probably unwanted paths, and suggest .dockerignore lines with their saving."
    ),
    "copy": (
        "Copy an image from SOURCE to DESTINATION: docker://REF, oci:DIR[:TAG], "
        "oci-archive:FILE[:TAG], docker-archive:FILE[:NAME], or a name in the store."
    ),
    "doctor": (
        "Name the cause of a failed build and its fix: the last failed build this store recorded "
        "(--last, the default), or BUILD-LOG, a build's saved output."
    ),
    "export": (
        "Export IMAGE to DESTINATION: oci:DIR[:TAG], oci-archive:FILE[:TAG], "
        "docker-archive:FILE[:NAME], docker://REF."
    ),
    "images": (
        "List the images in the store (not the signatures and attestations kept beside them)."
    ),
    "import": (
        "Import an image from SOURCE: oci:DIR[:TAG], oci-archive:FILE[:TAG], "
        "docker-archive:FILE[:NAME], rootfs:DIR|TAR, docker://REF."
    ),
    "inspect": (
        "Show an image's manifest, config, layers, sizes and history (an index's: its platforms, "
        "then the image for --platform)."
    ),
    "key": "Signing keys in cosign's formats: generate a pair, import an existing key.",
    "lint": "Check Dockerfiles (default ./Dockerfile) against the build standard.",
    "login": "Check credentials for the registry HOST and remember them.",
    "logout": "Forget the credentials of the registry HOST.",
    "ls-tags": "List the tags of the repository [docker://]REFERENCE names.",
    "manifest": "Manifest lists: join images built separately into one multi-platform index.",
    "parse": "Parse DOCKERFILE (default ./Dockerfile, - for stdin) as BuildKit does.",
    "promote": (
        "Promote IMAGE into the environment --to: by digest, only when that environment's gates "
        "pass (every image of an index), copied with its signatures, attestations and SBOM, the "
        "promotion recorded as a signed attestation (--key)."
    ),
    "prune": (
        "Delete blobs that no image name reaches, abandoned partial downloads, unpacked layers no"
        " image uses and what scan kept of images no name reaches."
    ),
    "pull": (
        "Pull [docker://]REFERENCE from its registry into the store, with its signatures and "
        "attestations (verify --local checks them with no registry); prints the digest."
    ),
    "push": (
        "Push IMAGE from the store to [docker://]DESTINATION (default: IMAGE's own name), with "
        "the signatures and attestations the store keeps for it; prints the manifest digest."
    ),
    "registry": "Serve images over the OCI Distribution API and manage the registry.",
    "rescan": (
        "Scan the store's images (IMAGES, default all) again against the current vulnerability "
        "database and report only what is new since each image's last rescan (the first rescan of"
        " an image reports all it finds)."
    ),
    "retire": (
        "Retire IMAGE (docker://REF, or a name in the store): archive it whole with its referrers"
        " (--archive oci-archive:FILE; `imageforge import` restores it with the same digest), "
        "then delete it at the registry (its tags go with it) or remove its store names and prune"
        " what no other image uses."
    ),
    "rmi": "Remove image names; content no name reaches any more is deleted.",
    "run": (
        "Run COMMAND (default: the image's Entrypoint + Cmd) in a new container of IMAGE (an "
        "index's image for --platform; another architecture's through qemu-user), within Docker's"
        " resource limits when given."
    ),
    "sbom": "List the packages in TARGET: OS packages (dpkg, apk, rpm) and language packages.",
    "scan": (
        "Scan TARGET for known vulnerabilities, secrets, risky image configuration and licences "
        "(--scanners; default vuln,secret, as trivy)."
    ),
    "ship": (
        "Ship CONTEXT into an environment of imageforge.toml: lint, build, analyze, SBOM, scan, "
        "sign, attest and push, stopping at the first stage whose gate fails."
    ),
    "sign": "Sign the registry image [docker://]IMAGE as ``cosign sign --key`` does.",
    "stats": "What the store recorded, summed up.",
    "system": "Inspect this machine.",
    "tag": "Give the image SOURCE the additional name TARGET.",
    "tune": (
        "Run IMAGE under a load, sample its cgroup several times a second and recommend "
        "Kubernetes requests and limits by named strategies (KRR's simple, VPA's recommender); "
        "see docs/tune.md."
    ),
    "verify": (
        "Verify the signatures of the registry image [docker://]IMAGE with a public key, as "
        "``cosign verify --key`` does (offline: no transparency log)."
    ),
    "verify-attestation": (
        "Verify the attestations of the registry image [docker://]IMAGE, as ``cosign "
        "verify-attestation --key`` does (offline): for each --type (and each type the --policy "
        "names) one attestation signed by the key, naming the image's digest; then the policy's "
        "conditions."
    ),
    "vulndb": "The vulnerability database scans read: import advisories, update them, show status.",
}
