"""Outside message providers: SMS adapters (one module per provider) and the e-mail sender."""
