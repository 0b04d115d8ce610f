"""A deployment's history of complaints and official replies: import, scrub, infer who acted, feed the router.

Modules, one job each:
  reading    rows of a 12345 export (JSONL, CSV or .xlsx; Chinese or English headers)
  rules      boilerplate replies and the actors a reply says acted (patterns, weighted by what was done)
  labelling  rules plus a self-trained reply classifier, calibrated by cross-validation, into a label and confidence
  importing  read, scrub, label, write HISTORY.jsonl, with counts
  upsert     the imported messages as resolved cases in retrieval (precedents)
  commands   `linli history import` and `linli history upsert`
"""
