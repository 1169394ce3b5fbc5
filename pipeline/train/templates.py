"""Chat templates saved with the adapter and the merged model, matching the training format.

EdgeFabric itself renders prompts with `edgefabric.runtime.formats`; the template is
for other runtimes (transformers' apply_chat_template, llama.cpp, LM Studio). The
FunctionGemma template reproduces `functiongemma.render` for OpenAI-style messages,
with limits a Jinja template cannot lift (it cannot parse JSON): pass call arguments
and tool results as mappings (transformers' convention); a JSON *string* result is
written as `{value:<escape>...<escape>}` and a string of arguments is copied as is;
a literal `<escape>` inside a string is not re-escaped.
Qwen3 keeps the base tokenizer's own template when it has one (Qwen's, which our
format mirrors), else TRL's copy of Qwen3's template.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

FUNCTIONGEMMA_TEMPLATE = r"""
{%- macro value(v) -%}
{%- if v is none -%}null
{%- elif v is boolean -%}{{ 'true' if v else 'false' }}
{%- elif v is string -%}<escape>{{ v }}<escape>
{%- elif v is mapping -%}{ {%- for k, x in v.items() -%}{{ k }}:{{ value(x) }}{{ ',' if not loop.last }}{%- endfor -%} }
{%- elif v is iterable -%}[{%- for x in v -%}{{ value(x) }}{{ ',' if not loop.last }}{%- endfor -%}]
{%- else -%}{{ v }}
{%- endif -%}
{%- endmacro -%}
{%- macro schema(s) -%}
{%- if s is mapping -%}{ {%- set ns = namespace(first=true) -%}
{%- for k in s | sort -%}{%- if k not in ['title', '$schema'] -%}
{{ '' if ns.first else ',' }}{%- set ns.first = false -%}{{ k }}:
{%- if k == 'type' -%}{%- if s[k] is string -%}<escape>{{ s[k] | upper }}<escape>{%- else -%}[{%- for t in s[k] -%}<escape>{{ t | upper }}<escape>{{ ',' if not loop.last }}{%- endfor -%}]{%- endif -%}
{%- elif k == 'properties' and s[k] is mapping -%}{ {%- for p in s[k] | sort -%}{{ p }}:{{ schema(s[k][p]) }}{{ ',' if not loop.last }}{%- endfor -%} }
{%- elif k in ['items', 'additionalProperties'] and s[k] is mapping -%}{{ schema(s[k]) }}
{%- elif k in ['anyOf', 'oneOf', 'allOf'] and s[k] is iterable and s[k] is not string -%}[{%- for x in s[k] -%}{{ schema(x) }}{{ ',' if not loop.last }}{%- endfor -%}]
{%- else -%}{{ value(s[k]) }}
{%- endif -%}
{%- endif -%}{%- endfor -%} }
{%- else -%}{{ value(s) }}{%- endif -%}
{%- endmacro -%}
{{- bos_token -}}
{%- set msgs = messages -%}
{%- set first = messages[0] if messages else none -%}
{%- if first and first.role in ['system', 'developer'] -%}{%- set msgs = messages[1:] -%}{%- endif -%}
{%- if (first and first.role in ['system', 'developer']) or tools -%}
<start_of_turn>developer
{% if first and first.role in ['system', 'developer'] %}{{ first.content | trim }}{% else %}You are a model that can do function calling with the following functions{% endif -%}
{%- for t in tools or [] -%}{%- set f = t.function if t.function is defined else t -%}
<start_function_declaration>declaration:{{ f.name }}{ {%- if f.description -%}description:<escape>{{ f.description }}<escape>,{%- endif -%}parameters:{{ schema(f.parameters if f.parameters is defined else {'type': 'object', 'properties': {}}) }}}<end_function_declaration>
{%- endfor -%}<end_of_turn>
{% endif -%}
{%- set ns = namespace(in_model=false, prev=none) -%}
{%- for m in msgs -%}
{%- if m.role in ['user', 'system', 'developer'] -%}
{%- if ns.in_model -%}<end_of_turn>
{% set ns.in_model = false %}{%- endif -%}
<start_of_turn>{{ 'user' if m.role == 'user' else 'developer' }}
{{ m.content or '' }}<end_of_turn>
{% else -%}
{%- if not ns.in_model -%}<start_of_turn>model
{% set ns.in_model = true %}{%- endif -%}
{%- if m.role == 'assistant' -%}
{%- if m.content is string %}{% generation %}{{ m.content }}{% endgeneration %}{% endif -%}
{%- for c in m.tool_calls or [] -%}{%- set fn = c.function if c.function is defined else c -%}
{% generation %}<start_function_call>call:{{ fn.name }}{{ fn.arguments if fn.arguments is string else value(fn.arguments) }}<end_function_call>{% endgeneration %}
{%- endfor -%}
{%- else -%}
<start_function_response>response:{{ m.name }}{%- if m.content is mapping -%}{{ value(m.content) }}{%- else -%}{value:{{ value(m.content) }}}{%- endif -%}<end_function_response>
{%- endif -%}
{%- endif -%}
{%- set ns.prev = m.role -%}
{%- endfor -%}
{%- if ns.in_model and not (add_generation_prompt and ns.prev == 'tool') -%}<end_of_turn>
{% elif add_generation_prompt and not ns.in_model -%}<start_of_turn>model
{% endif -%}
""".strip()


def _trl_template(name: str) -> str:
    import trl

    return (Path(trl.__file__).parent / "chat_templates" / f"{name}.jinja").read_text(encoding="utf-8")


def chat_template_for(family: str, tokenizer: Any) -> str:
    if family == "functiongemma":
        return FUNCTIONGEMMA_TEMPLATE
    existing = getattr(tokenizer, "chat_template", None)
    if isinstance(existing, str) and "tool_call" in existing:
        return existing
    return _trl_template("qwen3")
