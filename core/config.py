"""The project config: one YAML file, one pydantic model per stage.

Every field is checked; a bad file yields one readable line per problem naming
the field, the bad value and what is allowed (see `load_config`).
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edgefabric.errors import ConfigError, EdgeFabricError

CONFIG_VERSION = 1
EMBEDDED_BASE = "embedded:gemma3-270m"
DEFAULT_FAMILY = "functiongemma"  # the embedded base's chat format
EMBEDDED_TEACHER = "embedded:smollm2-135m"
GGUF_QUANTS = ("f16", "bf16", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q4_0")
ONNX_PRECISIONS = ("int4", "int8", "fp32")
SAMPLE_KINDS = ("single", "parallel", "multi_step", "no_call", "error_recovery")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfig(_Section):
    """The student model and the chat format it is trained in.

    `family` must name a registered chat format (edgefabric.runtime.formats.registry, the one list of
    them); an alias is kept as written, since every consumer resolves it through the same registry.
    """

    family: str = DEFAULT_FAMILY
    base: str = Field(default=EMBEDDED_BASE, min_length=1)

    @field_validator("family")
    @classmethod
    def _registered_family(cls, value: str) -> str:
        # The registry is the one source of family names; it is imported here, when a config is
        # checked, so that importing this module stays free of the stages (pyproject's import contracts
        # allow exactly this one edge).
        from edgefabric.runtime.formats.registry import FORMATS, describe_families

        if value not in FORMATS:
            raise ValueError(f"allowed: {describe_families()}")
        return value


class TeacherConfig(_Section):
    model: str = Field(default=EMBEDDED_TEACHER, min_length=1)
    api_base: str | None = None
    api_key_env: str | None = None
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(default=512, gt=0)
    concurrency: int = Field(default=4, ge=1, le=256)
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=5, ge=0, le=20)


class McpServer(_Section):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*$")
    command: str = Field(min_length=1)


class ToolsConfig(_Section):
    builtin: list[str] = Field(default_factory=lambda: ["math", "kv"])
    modules: list[Path] = Field(default_factory=list)
    mcp: list[McpServer] = Field(default_factory=list)

    def sets(self) -> list[str]:
        """The tool sets as the sandbox's load_toolbox and the CLI's --tools take them: built-ins, then modules."""
        return [*self.builtin, *(str(path) for path in self.modules)]


class TopicsConfig(_Section):
    prompt: str = Field(default="Everyday tasks that need a calculator and a small key-value store", min_length=3)
    depth: int = Field(default=2, ge=1, le=6)
    degree: int = Field(default=3, ge=1, le=20)
    similarity_threshold: float = Field(default=0.85, gt=0.0, le=1.0)


class SplitConfig(_Section):
    train: float = Field(default=0.8, ge=0.0, le=1.0)
    val: float = Field(default=0.1, ge=0.0, le=1.0)
    test: float = Field(default=0.1, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitConfig:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must add up to 1.0, not {total:g}")
        return self


class GenerationConfig(_Section):
    def resolved_mode(self, teacher: TeacherConfig) -> str:
        """ "call_first" or "request_first" once "auto" is decided by the teacher."""
        if self.mode != "auto":
            return self.mode
        return "call_first" if teacher.model == EMBEDDED_TEACHER else "request_first"

    def cycle_check_on(self, teacher: TeacherConfig) -> bool:
        if self.cycle_check != "auto":
            return self.cycle_check == "on"
        return teacher.model != EMBEDDED_TEACHER

    num_samples: int = Field(default=50, ge=1, le=1_000_000)
    kinds: dict[str, float] = Field(
        default_factory=lambda: {
            "single": 0.4,
            "parallel": 0.2,
            "multi_step": 0.2,
            "no_call": 0.1,
            "error_recovery": 0.1,
        }
    )
    max_steps: int = Field(default=4, ge=1, le=16)
    # call_first: draw the calls, run them, then the teacher writes the request for exactly them
    # (pipeline/generate/callfirst.py); request_first: the teacher writes the request, then the
    # calls. auto: call_first for the embedded teacher, request_first for any other.
    mode: Literal["auto", "call_first", "request_first"] = "auto"
    # Back-translation: the teacher must make the same calls from the request alone. auto: on,
    # except for the embedded 135M teacher, which fails it on most grounded samples (README).
    cycle_check: Literal["auto", "on", "off"] = "auto"
    semantic_check: bool = True
    splits: SplitConfig = Field(default_factory=SplitConfig)
    seed: int = 42

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(SAMPLE_KINDS))
        if unknown:
            raise ValueError(f"unknown sample kind(s) {', '.join(unknown)}; allowed: {', '.join(SAMPLE_KINDS)}")
        if any(not math.isfinite(weight) for weight in value.values()):
            raise ValueError("kind weights must be finite numbers (not .nan or .inf)")
        if any(weight < 0 for weight in value.values()) or sum(value.values()) <= 0:
            raise ValueError("kind weights must be >= 0 and not all zero")
        return value


class LoraConfig(_Section):
    r: int = Field(default=16, ge=1, le=512)
    alpha: int = Field(default=32, ge=1)
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"], min_length=1)


class TrainingConfig(_Section):
    backend: Literal["auto", "trl", "unsloth"] = "auto"
    lora: LoraConfig = Field(default_factory=LoraConfig)
    learning_rate: float = Field(default=2e-4, gt=0.0, lt=1.0)
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = "cosine"
    warmup_ratio: float = Field(default=0.05, ge=0.0, lt=1.0)
    epochs: float = Field(default=1.0, gt=0.0)
    max_steps: int | None = Field(default=None, ge=1)
    batch_size: int = Field(default=2, ge=1)
    grad_accum: int = Field(default=1, ge=1)
    max_length: int | None = Field(default=None, ge=16)
    seed: int = 42
    eval_every: int | None = Field(default=None, ge=1)
    save_every: int | None = Field(default=50, ge=1)  # None: no checkpoints, so nothing to --resume from
    early_stopping_patience: int | None = Field(default=None, ge=1)
    gradient_checkpointing: bool = False
    # CPU only: `auto` is bf16 (frozen weights stored and multiplied in bf16, LoRA and new token rows in fp32) when
    # the CPU has AVX512-BF16 or AMX, else fp32. CUDA picks bf16/fp16 by what the GPU supports.
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    # CPU only: torch threads; None = the cores other work leaves free when training starts (at least 1).
    threads: int | None = Field(default=None, ge=1)
    merge: bool = True


class OnnxQuantization(_Section):
    """Weight-only (MatMulNBits) quantization of int4/int8 ONNX exports: the options of
    onnxruntime-genai's model builder (`--extra_options`, its help text is the reference).

    - `algo`, `block_size`, `accuracy_level`: the builder's, for int4 and int8 (`algo="auto"`:
      k_quant at int4, rtn at int8).
    - `lm_head`, `mixed_layers`: int4 only, what stays at int8 in an int4 body.
    - `embedding`: int8 only, whether a tied embedding table is read from the LM head's 8-bit
      weights ("int8", the default) or kept in float32 as the builder's own int8 does ("float").

    ONNX int8 with these defaults is the default ONNX export: no int4 setting passed its parity
    bounds on the 270M (README, "Parity thresholds": each option measured one by one); the int4
    defaults are the int4 setting that came closest.
    """

    # "auto": k_quant at int4 (closest to passing), rtn at int8 (closer to the source than k_quant at
    # 8 bits on the 270M, and built 4 times faster in half the memory).
    algo: Literal["auto", "default", "rtn", "k_quant"] = "auto"
    block_size: Literal[16, 32, 64, 128, 256] = 32
    accuracy_level: Literal[1, 2, 3, 4] = 4  # 4: int8 activations (fastest on CPU); 1: fp32
    lm_head: Literal["same", "int8"] = "int8"  # Gemma's 262k x 640 output layer: most of the weights
    # int8 for the most quantization-sensitive MatMuls too (the builder's `mixed_layers`: llama.cpp's
    # mixed strategy, the first and last eighth of the layers plus every third layer's qkv/v/down).
    mixed_layers: bool = False
    # int8 only. "int8": every MatMul and the LM head at 8 bits, and a tied embedding table read from
    # the LM head's 8-bit weights (GatherBlockQuantized), which the builder's own int8 cannot do: it
    # keeps the embedding in float32, 671 MB of Gemma 3 270M's 1,049 MB. "float": the builder's own
    # int8. A model whose embedding is not tied to its LM head gets the builder's own int8 either way.
    embedding: Literal["int8", "float"] = "int8"

    def method(self, precision: str) -> str:
        """The builder's algo_config at `precision` ("int4" or "int8"): `algo`, with "auto" resolved."""
        if self.algo != "auto":
            return self.algo
        return "rtn" if precision == "int8" else "k_quant"

    def builder_options(self, precision: str = "int4") -> list[str]:
        """KEY=VALUE strings for the builder's --extra_options at `precision` ("int4" or "int8")."""
        options = [
            f"algo_config={self.method(precision)}",
            f"block_size={self.block_size}",
            f"accuracy_level={self.accuracy_level}",
        ]
        mixed = [
            *(["last_matmul:int8"] if self.lm_head == "int8" else []),
            *(["mixed_layers:int8"] if self.mixed_layers else []),
        ]
        if mixed:
            options.append("matmul_mixed_precision=" + ",".join(mixed))
        return options


class ExportConfig(_Section):
    # The smallest GGUF type that passed parity on the 270M, at q8_0's held-out accuracy (README,
    # "Parity thresholds"); q4 types lost every call there.
    gguf: list[str] = Field(default_factory=lambda: ["q5_k_m"])
    # int8 with its embedding at 8 bits (OnnxQuantization.embedding): no int4 setting passed parity on
    # the 270M (README, "Parity thresholds").
    onnx: list[str] = Field(default_factory=lambda: ["int8"])
    onnx_quantization: OnnxQuantization = Field(default_factory=OnnxQuantization)

    @field_validator("gguf")
    @classmethod
    def _known_quants(cls, value: list[str]) -> list[str]:
        bad = [q for q in value if q not in GGUF_QUANTS]
        if bad:
            raise ValueError(f"unknown GGUF type(s) {', '.join(bad)}; allowed: {', '.join(GGUF_QUANTS)}")
        return value

    @field_validator("onnx")
    @classmethod
    def _known_precisions(cls, value: list[str]) -> list[str]:
        bad = [p for p in value if p not in ONNX_PRECISIONS]
        if bad:
            raise ValueError(f"unknown ONNX precision(s) {', '.join(bad)}; allowed: {', '.join(ONNX_PRECISIONS)}")
        return value


class EvalConfig(_Section):
    device_profile: Literal["phone", "raspberry-pi", "laptop", "desktop"] = "laptop"
    max_samples: int | None = Field(default=None, ge=1)
    max_steps: int = Field(default=4, ge=1, le=16)


class ProjectConfig(_Section):
    version: int = CONFIG_VERSION
    name: str = Field(default="edgefabric-project", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    model: ModelConfig = Field(default_factory=ModelConfig)
    teacher: TeacherConfig = Field(default_factory=TeacherConfig)
    tools: ToolsConfig = Field(default_factory=ToolsConfig)
    topics: TopicsConfig = Field(default_factory=TopicsConfig)
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != CONFIG_VERSION:
            raise ValueError(f"this EdgeFabric reads config version {CONFIG_VERSION}")
        return value

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the field at `loc`, to list its allowed keys."""
    model: type[BaseModel] = ProjectConfig
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            return None
    return model


def _shown(value: Any, limit: int = 120) -> str:
    """`value` as repr, cut to `limit` characters: an error never echoes a huge value."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class _NoAliasLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses aliases (`*name`): a few hundred bytes of nested aliases
    expand to gigabytes (the "billion laughs"), and a config has no need of them."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"aliases (*{event.anchor}) are not allowed in a config", event.start_mark
            )
        return super().compose_node(parent, index)


def load_yaml(text: str) -> Any:
    """Parse one YAML document safely and without aliases (raises yaml.YAMLError)."""
    return yaml.load(text, Loader=_NoAliasLoader)


def describe_errors(exc: ValidationError) -> list[str]:
    """One line per problem: `field.path: got VALUE; what is allowed`."""
    lines = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        value = error.get("input")
        if error["type"] == "extra_forbidden":
            owner = _model_at(loc)
            allowed = sorted(owner.model_fields) if owner else []
            near = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            lines.append(f"{where}: unknown field{hint} allowed here: {', '.join(allowed)}")
            continue
        if error["type"] == "missing":
            lines.append(f"{where}: required but missing")
            continue
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "literal_error":
            expected = error.get("ctx", {}).get("expected", "")
            message = f"allowed: {expected}"
        lines.append(f"{where}: got {_shown(value)}; {message}")
    return lines


def parse_config(data: Any, source: str = "config") -> ProjectConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, [f"the file must hold a mapping of sections, not {type(data).__name__}"])
    try:
        return ProjectConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, describe_errors(exc)) from None


def load_config(path: Path) -> ProjectConfig:
    if not path.exists():
        raise ConfigError(str(path), ["the file does not exist (create one with `edgefabric config init`)"])
    if path.is_dir():
        raise ConfigError(str(path), ["this is a folder, not a config file (give the path of its edgefabric.yaml)"])
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(str(path), [f"line {line}: not UTF-8 text (save the file as UTF-8)"]) from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(path), [f"{where}not valid YAML ({problem})"]) from None
    return parse_config(data, str(path))


def save_config(config: ProjectConfig, path: Path) -> None:
    """Write through a temporary file so a crash never leaves half a config."""
    if path.is_dir():
        raise EdgeFabricError(f"{path} is a folder", f"give a file path, e.g. {path / 'edgefabric.yaml'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(config.to_yaml(), encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
