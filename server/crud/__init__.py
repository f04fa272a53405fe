"""The data layer: functions of a Session that read and write the models and return values (never HTTP errors)."""
