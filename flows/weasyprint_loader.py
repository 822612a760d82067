"""WeasyPrint imported without asking the C compiler where Pango is.

WeasyPrint loads each C library it needs (GObject, Pango, HarfBuzz, fontconfig, ...) by trying
a list of names, the Linux soname (`libpango-1.0.so.0`) after the Windows and generic ones
(`libpango-1.0-0`, `pango-1.0`). cffi looks up every name without a dot with
`ctypes.util.find_library`, which on Linux runs `ldconfig -p`, then `gcc` and `ld` in turn:
about fifty processes, 0.15 s of every command that renders (measured: `import weasyprint`
0.51 s, 0.36 s without them). On Linux such a lookup either fails or ends at the very soname
WeasyPrint tries itself further down its list, so while WeasyPrint is imported the lookup says
"not found" at once and the soname loads through the dynamic loader's own search. Should a
system need the lookup after all (a library only on the compiler's path), the import is done
again the ordinary way.
"""

from __future__ import annotations

import io
import sys
import threading
from contextlib import contextmanager, redirect_stdout
from types import ModuleType


def load_weasyprint() -> ModuleType:
    if "weasyprint" in sys.modules or not sys.platform.startswith("linux"):
        import weasyprint

        return weasyprint
    try:
        # WeasyPrint prints its installation help to stdout when a library does not load:
        # said once, by the ordinary import below, if that fails too
        with _no_library_search_in_this_thread(), redirect_stdout(io.StringIO()):
            import weasyprint
    except OSError:  # a library only the search finds: import it the ordinary way
        for name in [name for name in sys.modules if name == "weasyprint" or name.startswith("weasyprint.")]:
            del sys.modules[name]
        import weasyprint
    return weasyprint


@contextmanager
def _no_library_search_in_this_thread():
    """`ctypes.util.find_library` answers None in this thread; other threads search as before."""
    import ctypes.util

    search = ctypes.util.find_library
    importing = threading.get_ident()

    def find_library(name: str):
        return None if threading.get_ident() == importing else search(name)

    ctypes.util.find_library = find_library
    try:
        yield
    finally:
        ctypes.util.find_library = search
