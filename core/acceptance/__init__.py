"""SES's acceptance rules as pure functions: what SES refuses at send time, and with which
error. Nothing here does I/O or reads the clock; state and configuration come in as
arguments. Modules: `errors` (SesError and one constructor per condition), `addresses`,
`content_rules`, `identities`, `simulator`, `quotas`, `templates` (with `handlebars`)."""
