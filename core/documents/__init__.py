"""Document writers behind small interfaces: PDF bills, iCalendar (and, later, reports and FHIR)."""
