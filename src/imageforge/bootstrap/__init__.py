"""Base images without a registry: busybox from Debian's busybox-static, Debian from
debootstrap.

Each function writes its one layer into a :class:`~imageforge.store.Store` (verified on
commit, unnamed) and returns an :class:`~imageforge.oci.Image` over it; name it or send
it anywhere with ``transports.write_image``. :func:`apt_mirror` reads the Debian mirror
from the host's APT sources, so no host name is written into the code.
"""

from imageforge.bootstrap._busybox import (
    BUSYBOX_PACKAGE,
    BusyboxSource,
    busybox_applets,
    busybox_image,
)
from imageforge.bootstrap._debian import DEBIAN_VARIANTS, debian_image, find_debootstrap
from imageforge.bootstrap._mirror import apt_mirror, is_debian_mirror, source_uris

__all__ = [
    "BUSYBOX_PACKAGE",
    "DEBIAN_VARIANTS",
    "BusyboxSource",
    "apt_mirror",
    "busybox_applets",
    "busybox_image",
    "debian_image",
    "find_debootstrap",
    "is_debian_mirror",
    "source_uris",
]
