"""The checks of ``ticket-audit doctor``, one module per area; :mod:`audit.app.doctor` runs them.

result   a check's outcome (ok / warn / fail, message, hint), the exit code, the printed lines
config   the config file, the waivers file, the rule files
api      credentials, zone, the API itself, the request budget, what the API user can see
mapping  the tenant mapping's labels against the tenant's picklists and UDFs
store    the snapshot store: readable, not locked, writable
pdf      WeasyPrint and the report's font
"""
