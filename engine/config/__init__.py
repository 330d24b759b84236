"""What a trial is made of: the knobs and their rules, the groups they form, presets and their TOML.

`Config` is the validated, frozen description of one trial; `load_preset` builds one from a preset
and `--set` overrides; every error names the file, the line, the key, the rule and the value.
"""
from engine.config.groups import GROUPS, Config, field_info, iter_fields
from engine.config.knobs import FieldInfo, Knob

__all__ = ["GROUPS", "Config", "FieldInfo", "Knob", "field_info", "iter_fields"]
