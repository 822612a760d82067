"""The eInnsyn order reader moved to `innsyn.intake.order`; this name stays for old imports."""

from innsyn.intake.order import (  # noqa: F401
    V2_NAMESPACE,
    EInnsynOrder,
    OrderedDocument,
    parse_order_request,
    read_order,
)
