"""Real inputs: the spreadsheets and uploads CBs and accreditation bodies actually have.

- mapping.py, mapping.schema.json: how a CB's sheets and columns become record fields
- tabular.py: .xlsx workbooks and folders of .csv files -> records (through a mapping)
- certsearch.py: IAF CertSearch certification upload workbooks -> client and certificate records
- database.py, database_mapping.py (database-mapping.schema.json), database_url.py: a CB's
  SQLite or PostgreSQL database -> records, read-only, through a database mapping
- database_demo.py: builds the demo CB as a database, with its mapping (fixtures/demo-db)
- export.py: records -> the template workbook / CSV layout, and records -> YAML per client
- make_template.py: rebuilds fixtures/templates from the record schemas
- dispatch.py: which reader a path needs; the entries `cbcheck check` and `cbcheck import` call
- assemble.py: rows -> records (cells converted, items attached, records validated), for
  sheets and database tables alike
- layout.py, convert.py, sources.py, origins.py: the pieces underneath
"""
