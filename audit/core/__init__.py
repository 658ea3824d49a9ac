"""The ground floor every other package stands on; it imports nothing else from ``audit``.

errors       the exception tree and the exit code each error maps to
config       the TOML configuration, validated (``Config``, ``TenantMapping``)
config_docs  docs/configuration.md, generated from the config's own fields
period       audit periods, ISO weeks and the ``--as-of`` instant, in the configured time zone
logs         logging set-up and the one secret-redaction filter
yamlload     the YAML loader that remembers line numbers (rule and waiver files)
tomlload     the TOML line locator (config errors name a line)
safetext     one place that makes ticket text safe to print, log or put in a cell
userregex    user-supplied regular expressions, checked and time-bounded
suggest      "did you mean" close matches for misspelt names
progress     progress bars (tqdm) that stay quiet when not on a terminal
"""
