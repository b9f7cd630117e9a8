"""Real inputs: the spreadsheets and uploads CBs and accreditation bodies actually have.

- mapping.py, mapping.schema.json: how a CB's sheets and columns become record fields
- tabular.py: .xlsx workbooks and folders of .csv files -> records (through a mapping)
- certsearch.py: IAF CertSearch certification upload workbooks -> client and certificate records
- export.py: records -> the template workbook / CSV layout, and records -> YAML per client
- make_template.py: rebuilds fixtures/templates from the record schemas
- dispatch.py: which reader a path needs; the entries `cbcheck check` and `cbcheck import` call
- layout.py, convert.py, sources.py, origins.py: the pieces underneath
"""
