"""Research: one process per agency, answering enquiries from that agency's
own store only. It discloses proportionate findings, never raw records, and
audits every disclosure in its own database."""
