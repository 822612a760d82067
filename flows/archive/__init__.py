"""Archive: the answered case as a Noark 5 archive package (`innsyn archive CASE`).

- `package`: arkivmelding.xml (arkivmelding v1: a saksmappe, the request in, the answer out)
  and the files it describes, written whole or not at all;
- `pdfa`: the PDF/A checks every archived PDF must pass;
- `schema/arkivmelding-subset.xsd`: the subset of the published schema innsyn writes, which
  every package is validated against.
"""
