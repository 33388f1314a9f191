"""A deterministic synthetic borough: families, and what each agency holds.

No real person is in here. The same seed gives the same people, so the demo's
contacts and the agencies' seeded records describe the same children without
the demo ever reading an agency's store.
"""

from synthetic.population import Family, Person, population
from synthetic.records import AgencyRecord, agency_records

__all__ = ["AgencyRecord", "Family", "Person", "agency_records", "population"]
