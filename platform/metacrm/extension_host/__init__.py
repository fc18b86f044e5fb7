"""metacrm.extension_host — the core side of extension packs.

`PackHost` loads installed packs' `install(ctx)` (`PackContext`, the implementation of
`metacrm.extension.ExtensionContext`), adds their contributions to the core's registries as
one unit and removes them the same way; `check_installable` tells the lifecycle what would
stop a pack from loading. See docs/extensions.md.
"""

from metacrm.extension_host.host import HostCore, PackHost, PackLoadError
from metacrm.extension_host.specs import NoPacks, PackSource, PackSpec

__all__ = ["HostCore", "NoPacks", "PackHost", "PackLoadError", "PackSource", "PackSpec"]
