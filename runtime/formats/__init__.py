"""Chat formats: one package per model family (functiongemma/, qwen3/), each a unit that renders,
segments and parses its text, names its tokens, builds its call grammar and gives its exported Jinja
and Ollama templates; registry.py maps family names to units (`get_format`). base.py says what a unit
provides, gbnf.py holds the grammar pieces formats share, templates.py renders exported templates.
"""
