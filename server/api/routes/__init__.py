"""Route modules: worker API, read API, dashboard pages, triage forms, sign-in."""
