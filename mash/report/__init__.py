"""`mash report`: figures for the strategic board and for inspectors.

Pure aggregation lives in ``performance``, ``annex_a`` and ``emerging`` (plain
records in, plain values out, no I/O); ``load`` reads the decision service's
database with the operator's user; ``charts`` draws; ``cli`` is the typer
sub-app. Nothing here imports a service: the case documents are read as this
package's own small models (``records``).
"""
