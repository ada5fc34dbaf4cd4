"""MIME helpers shared by several stages: parse once, envelope and body structure, header edits.

`parsed.parse_message` is the entry point (the MDA stores its `to_json()` beside the blob);
`headers` edits raw header sections for the MSA and MDA. See each module's docstring.
"""
