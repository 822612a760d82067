"""WeasyPrint loads its C libraries without a compiler's search, and the same ones as ever."""

from __future__ import annotations

import json
import subprocess
import sys

LIBRARIES = ("libgobject-2.0", "libpango-1.0", "libpangoft2-1.0", "libharfbuzz.", "libharfbuzz-subset", "libfontconfig")

REPORT = """
import json, subprocess
started = []
popen_init = subprocess.Popen.__init__
def counted(self, args, *rest, **kwargs):
    started.append(args if isinstance(args, str) else args[0])
    popen_init(self, args, *rest, **kwargs)
subprocess.Popen.__init__ = counted
{load}
maps = open("/proc/self/maps").read().split()
libraries = sorted({{path for path in maps if path.startswith("/") and ".so" in path}})
print(json.dumps({{"started": started, "libraries": libraries}}))
"""


def loaded(load: str) -> dict:
    done = subprocess.run([sys.executable, "-c", REPORT.format(load=load)], capture_output=True, text=True,
                          timeout=120, check=True)
    return json.loads(done.stdout)


def ours(libraries: list[str]) -> list[str]:
    return [path for path in libraries if any(f"/{name}" in path for name in LIBRARIES)]


def test_weasyprint_is_loaded_without_starting_a_process_and_with_the_same_libraries():
    plain = loaded("import weasyprint")
    fast = loaded("from innsyn.weasyprint_loader import load_weasyprint; load_weasyprint()")
    assert plain["started"], "the ordinary import no longer searches: this module can go"
    assert fast["started"] == []
    assert len(ours(plain["libraries"])) == len(LIBRARIES)
    assert ours(fast["libraries"]) == ours(plain["libraries"])


def test_a_library_only_the_search_finds_is_still_loaded_and_nothing_is_printed():
    # the soname does not load while the search is off (a library only on the compiler's path)
    load = """
import cffi, contextlib
from innsyn import weasyprint_loader
quick = weasyprint_loader._no_library_search_in_this_thread
dlopen = cffi.FFI.dlopen
def sonames_missing(self, name, *args):
    if name == "libpango-1.0.so.0":
        raise OSError("cannot open shared object file")
    return dlopen(self, name, *args)
@contextlib.contextmanager
def quick_without_sonames():
    with quick():
        cffi.FFI.dlopen = sonames_missing
        try:
            yield
        finally:
            cffi.FFI.dlopen = dlopen
weasyprint_loader._no_library_search_in_this_thread = quick_without_sonames
weasyprint = weasyprint_loader.load_weasyprint()
assert weasyprint.HTML(string="<p>x</p>").write_pdf().startswith(b"%PDF")
"""
    report = loaded(load)
    assert report["started"], "the second import searched, as WeasyPrint always did"
    assert len(ours(report["libraries"])) == len(LIBRARIES)
