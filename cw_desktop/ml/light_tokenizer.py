"""A tokenizer for the inference process that needs neither transformers nor torch.

Importing transformers (which imports torch) and building an AutoTokenizer costs seconds of a warm
start; the `tokenizers` library it wraps loads the same tokenizer.json in a few tenths of a second. `LightTokenizer` offers the
part of the Hugging Face fast-tokenizer API the engine uses, with the same names, and reproduces what
`AutoTokenizer.from_pretrained` (transformers 5) builds from the same folder: the same added and
special tokens, the same post-processor, the same decode clean-up and the same chat-template rendering.

`load_light_tokenizer` returns None for any folder whose configuration asks for something this module
does not reproduce exactly; the caller then loads transformers' AutoTokenizer as before.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from tokenizers import AddedToken, Tokenizer

SPECIAL_TOKEN_NAMES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
# Tokenizer classes whose transformers implementation is the plain tokenizer.json pipeline (checked
# further for GPT-2, whose class rebuilds the pipeline from the vocabulary instead of reading it).
PLAIN_CLASSES = ("TokenizersBackend", "PreTrainedTokenizerFast")
GPT2_CLASSES = ("GPT2Tokenizer", "GPT2TokenizerFast")
# For other architectures AutoTokenizer may pick a model-specific class over the configured one.
KNOWN_MODEL_TYPES = (None, "gpt2", "llama")
# Keys whose effect (on encoding, special tokens or file resolution) this module does not reproduce.
UNSUPPORTED_KEYS = ("auto_map", "split_special_tokens", "fast_tokenizer_files", "gguf_file",
                    "clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output")


def load_light_tokenizer(folder: Path) -> LightTokenizer | None:
    """The folder's tokenizer without transformers, or None when it cannot be reproduced exactly."""
    folder = Path(folder)
    try:
        config = _read_json(folder / "tokenizer_config.json")
        model_config = _read_json(folder / "config.json") if (folder / "config.json").is_file() else {}
    except (OSError, UnicodeDecodeError, ValueError):
        return None  # missing or unreadable: AutoTokenizer reports it properly
    if not isinstance(config, dict) or not isinstance(model_config, dict):
        return None
    if not _reproducible_config(folder, config, model_config):
        return None
    try:
        # Checks read the loaded pipeline: parsing the 3 MB tokenizer.json again in Python costs 0.2 s.
        backend = Tokenizer.from_file(str(folder / "tokenizer.json"))
        if backend.truncation is not None or backend.padding is not None:
            return None
        added = _added_tokens(config, backend)
        if config["tokenizer_class"] in GPT2_CLASSES and not _matches_gpt2_rebuild(config, backend, added):
            return None
        special = _special_tokens(config)
        chat_template = _chat_template(folder, config)
    except Exception:  # noqa: BLE001 - any surprise in the files: leave them to transformers
        return None
    return LightTokenizer(backend, config, special, added, chat_template, folder)


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _reproducible_config(folder: Path, config: dict[str, Any], model_config: dict[str, Any]) -> bool:
    if config.get("tokenizer_class") not in PLAIN_CLASSES + GPT2_CLASSES:
        return False
    if "auto_map" in model_config or model_config.get("model_type") not in KNOWN_MODEL_TYPES:
        return False
    if any(config.get(key) for key in UNSUPPORTED_KEYS):
        return False
    if (folder / "special_tokens_map.json").exists() or (folder / "added_tokens.json").exists():
        if "added_tokens_decoder" not in config:
            return False  # the legacy files would add or rename special tokens
    # Any other "*_token" string becomes a model-specific special token; a dict of them likewise.
    if any(key.endswith("_token") and key not in SPECIAL_TOKEN_NAMES and isinstance(value, (str, dict))
           for key, value in config.items()):
        return False
    return not isinstance(config.get("extra_special_tokens"), dict)


def _matches_gpt2_rebuild(config: dict[str, Any], backend: Tokenizer, added: dict[int, AddedToken]) -> bool:
    """GPT2Tokenizer rebuilds its pipeline (BPE from the vocabulary, byte-level pre-tokenizer and decoder,
    only the configured added tokens): reading tokenizer.json as-is is the same when the file holds
    exactly that pipeline."""
    model, pre = backend.model, backend.pre_tokenizer
    if type(model).__name__ != "BPE" or model.dropout is not None or model.unk_token is not None:
        return False
    if model.fuse_unk or model.byte_fallback or model.ignore_merges:
        return False
    if model.continuing_subword_prefix or model.end_of_word_suffix:
        return False
    if backend.normalizer is not None or type(backend.decoder).__name__ != "ByteLevel":
        return False
    if type(pre).__name__ != "ByteLevel" or not pre.use_regex:
        return False
    if bool(pre.add_prefix_space) != bool(config.get("add_prefix_space", False)):
        return False
    in_file = {index: _token_fields(token) for index, token in backend.get_added_tokens_decoder().items()}
    return in_file == {index: _token_fields(token) for index, token in added.items()}


def _token_fields(token: AddedToken) -> tuple[Any, ...]:
    return token.content, token.single_word, token.lstrip, token.rstrip, token.normalized, token.special


def _as_added_token(value: Any) -> AddedToken | str | None:
    """A special token as transformers reads it from tokenizer_config.json."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict) and value.get("__type") == "AddedToken":
        fields = {k: v for k, v in value.items() if k != "__type"}
        return AddedToken(**fields)
    raise TypeError(f"unsupported special token {value!r}")


def _added_tokens(config: dict[str, Any], backend: Tokenizer) -> dict[int, AddedToken]:
    """tokenizer_config.json's added_tokens_decoder, or (when absent) tokenizer.json's added tokens."""
    if "added_tokens_decoder" not in config:
        return dict(backend.get_added_tokens_decoder())
    tokens = {}
    for index, token in config["added_tokens_decoder"].items():
        if not isinstance(token, dict):
            raise TypeError(f"unsupported added token {token!r}")
        tokens[int(index)] = AddedToken(**{k: v for k, v in token.items() if k != "__type"})
    return tokens


def _special_tokens(config: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    named = {name: _as_added_token(config.get(name)) for name in SPECIAL_TOKEN_NAMES}
    extra = config.get("extra_special_tokens") or config.get("additional_special_tokens") or []
    if not isinstance(extra, (list, tuple)):
        raise TypeError("extra_special_tokens must be a list")
    return named, [_as_added_token(token) for token in extra]


def _chat_template(folder: Path, config: dict[str, Any]) -> str | dict[str, str] | None:
    """As transformers resolves it: chat_template.jinja and additional_chat_templates/*.jinja take
    priority over the template in tokenizer_config.json."""
    templates: dict[str, str] = {}
    if (folder / "chat_template.jinja").is_file():
        templates["default"] = (folder / "chat_template.jinja").read_text(encoding="utf-8")
    extra_dir = folder / "additional_chat_templates"
    if extra_dir.is_dir():
        for path in extra_dir.glob("*.jinja"):
            templates[path.name.removesuffix(".jinja")] = path.read_text(encoding="utf-8")
    if len(templates) == 1 and "default" in templates:
        return templates["default"]
    if templates:
        return templates
    template = config.get("chat_template")
    if isinstance(template, (list, tuple)):
        return {entry["name"]: entry["template"] for entry in template}
    return template


class LightTokenizer:
    """The subset of transformers' fast-tokenizer API the inference engine uses, on `tokenizers` alone."""

    is_fast = True

    def __init__(self, backend: Tokenizer, config: dict[str, Any],
                 special: tuple[dict[str, Any], list[Any]], added: dict[int, AddedToken],
                 chat_template: str | dict[str, str] | None, folder: Path) -> None:
        self._tokenizer = backend
        self.name_or_path = str(folder)
        self.chat_template = chat_template
        self.clean_up_tokenization_spaces = bool(config.get("clean_up_tokenization_spaces", False))
        self.split_special_tokens = False
        self.model_max_length = int(config.get("model_max_length") or int(1e30))
        self.padding_side = config.get("padding_side", "right")
        self.truncation_side = config.get("truncation_side", "right")
        self.model_input_names = list(config.get("model_input_names") or ["input_ids", "attention_mask"])
        named, extra = special
        # A named special token that is also an added token takes that token's properties.
        by_content = {str(token): token for token in added.values()}
        self._special: dict[str, Any] = {name: by_content.get(str(value), value) if value is not None else None
                                         for name, value in named.items()}
        self._extra_special = list(extra)
        self._add_missing_tokens(added)

    def _add_missing_tokens(self, added: dict[int, AddedToken]) -> None:
        """Add what transformers' TokenizersBackend.__init__ adds: configured added tokens the file lacks,
        then special tokens not in the vocabulary of added tokens yet."""
        present = {repr(token) for token in self._tokenizer.get_added_tokens_decoder().values()}
        to_add: list[Any] = [token for _, token in sorted(added.items()) if repr(token) not in present]
        known = [str(t) for t in self._tokenizer.get_added_tokens_decoder().values()] + [str(t) for t in to_add]
        for value in [*self._special.values(), *self._extra_special]:
            if value is not None and str(value) not in known and value not in to_add:
                to_add.append(value)
        if not to_add:
            return
        named = [str(value) for value in self._special.values() if value]
        tokens = []
        for token in to_add:
            if isinstance(token, str):
                token = AddedToken(token, special=True)
            elif not token.special and str(token) in named:
                token.special = True
            tokens.append(token)
        self._tokenizer.add_tokens(tokens)

    # -- vocabulary ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def __bool__(self) -> bool:
        return True

    @property
    def vocab_size(self) -> int:
        return self._tokenizer.get_vocab_size(with_added_tokens=False)

    def get_vocab(self) -> dict[str, int]:
        return self._tokenizer.get_vocab(with_added_tokens=True)

    def convert_ids_to_tokens(self, ids: int | Iterable[int], skip_special_tokens: bool = False) -> Any:
        if isinstance(ids, int):
            return self._tokenizer.id_to_token(ids)
        skip = set(self.all_special_ids) if skip_special_tokens else set()
        return [self._tokenizer.id_to_token(int(i)) for i in ids if int(i) not in skip]

    def convert_tokens_to_ids(self, tokens: str | Iterable[str]) -> Any:
        if isinstance(tokens, str):
            return self._token_to_id(tokens)
        return [self._token_to_id(token) for token in tokens]

    def _token_to_id(self, token: str) -> int | None:
        index = self._tokenizer.token_to_id(token)
        return self.unk_token_id if index is None else index

    # -- special tokens ------------------------------------------------------------------------------
    def _get_special(self, name: str) -> str | None:
        value = self._special.get(name)
        return None if value is None else str(value)

    def _set_special(self, name: str, value: str | AddedToken | None) -> None:
        if value is not None and not isinstance(value, (str, AddedToken)):
            raise ValueError(f"Cannot set a non-string value as the {name}")
        self._special[name] = value

    def _special_id(self, name: str) -> int | None:
        token = self._get_special(name)
        return None if token is None else self._token_to_id(token)

    def _set_special_id(self, name: str, index: int | None) -> None:
        self._set_special(name, None if index is None else self._tokenizer.id_to_token(int(index)))

    @property
    def special_tokens_map(self) -> dict[str, str]:
        return {name: str(value) for name, value in self._special.items() if value is not None}

    @property
    def extra_special_tokens(self) -> list[str]:
        return [str(token) for token in self._extra_special]

    @property
    def all_special_tokens(self) -> list[str]:
        seen: list[str] = []
        for value in [*self._special.values(), *self._extra_special]:
            if value is not None and str(value) not in seen:
                seen.append(str(value))
        return seen

    @property
    def all_special_ids(self) -> list[int]:
        return self.convert_tokens_to_ids(self.all_special_tokens)

    # -- encoding ------------------------------------------------------------------------------------
    def encode(self, text: str, text_pair: str | None = None, add_special_tokens: bool = True,
               **kwargs: Any) -> list[int]:
        _refuse_options(kwargs)
        return list(self._tokenizer.encode(text, text_pair, add_special_tokens=add_special_tokens).ids)

    # -- decoding ------------------------------------------------------------------------------------
    def decode(self, token_ids: Any, skip_special_tokens: bool = False,
               clean_up_tokenization_spaces: bool | None = None, **kwargs: Any) -> Any:
        token_ids = _to_list(token_ids)
        if isinstance(token_ids, list) and token_ids and isinstance(token_ids[0], (list, tuple)):
            return [self._decode(ids, skip_special_tokens, clean_up_tokenization_spaces) for ids in token_ids]
        return self._decode(token_ids, skip_special_tokens, clean_up_tokenization_spaces)

    def batch_decode(self, sequences: Any, skip_special_tokens: bool = False,
                     clean_up_tokenization_spaces: bool | None = None, **kwargs: Any) -> list[str]:
        sequences = _to_list(sequences)
        if len(sequences) == 0:
            return []
        result = self.decode(sequences, skip_special_tokens, clean_up_tokenization_spaces)
        return [result] if isinstance(result, str) else result

    def _decode(self, ids: Any, skip_special_tokens: bool, clean_up: bool | None) -> str:
        ids = [ids] if isinstance(ids, int) else [int(i) for i in ids]
        text = self._tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)
        clean_up = self.clean_up_tokenization_spaces if clean_up is None else clean_up
        # transformers never applies its WordPiece-era clean-up to a BPE tokenizer: it strips real spaces.
        if clean_up and type(self._tokenizer.model).__name__ != "BPE":
            text = clean_up_tokenization(text)
        return text

    # -- chat templates ------------------------------------------------------------------------------
    def get_chat_template(self, chat_template: str | None = None) -> str:
        if isinstance(self.chat_template, dict):
            templates = self.chat_template
            if chat_template is not None and chat_template in templates:
                return templates[chat_template]
            if chat_template is None:
                if "default" in templates:
                    return templates["default"]
                raise ValueError(f"This model has several chat templates and no default: {sorted(templates)}")
        elif chat_template is None:
            if self.chat_template is None:
                raise ValueError("Cannot use chat template functions because tokenizer.chat_template is not set")
            return self.chat_template
        return chat_template

    def apply_chat_template(self, conversation: list[dict[str, Any]], chat_template: str | None = None,
                            add_generation_prompt: bool = False, tokenize: bool = True, **kwargs: Any) -> str:
        """One conversation rendered as transformers renders it (same sandbox and helpers), as text: what
        the engine asks for (tokenize=False). Tools, documents, batches and tokenized output are
        transformers' business; they raise here rather than render differently."""
        if tokenize or kwargs:
            raise NotImplementedError(f"LightTokenizer renders one conversation to text only (got tokenize={tokenize}, "
                                      f"{sorted(kwargs)})")
        if not conversation:
            raise ValueError("Cannot apply chat template to an empty conversation. Provide at least one message.")
        messages = _plain([_without_none(message) for message in conversation])
        return _compile_template(self.get_chat_template(chat_template)).render(
            messages=messages, tools=None, documents=None, add_generation_prompt=add_generation_prompt,
            **_plain(self.special_tokens_map))


def clean_up_tokenization(text: str) -> str:
    for before, after in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                          (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
        text = text.replace(before, after)
    return text


def _refuse_options(kwargs: dict[str, Any]) -> None:
    """Padding, truncation and tensors change the output; silently ignoring them would hide a bug."""
    for option in ("padding", "truncation", "max_length", "return_tensors", "is_split_into_words"):
        if kwargs.get(option):
            raise NotImplementedError(f"LightTokenizer does not support {option}")


def _to_list(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else value


def _without_none(message: Any) -> dict[str, Any]:
    if not isinstance(message, Mapping):
        raise TypeError(f"Chat messages should be dicts, but got {message!r}.")
    return {key: value for key, value in message.items() if value is not None}


def _plain(value: Any) -> Any:
    """Only plain JSON-like data reaches the sandboxed template, as in transformers."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, Mapping):
        return {_plain(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_plain(item) for item in value)
    if hasattr(value, "item") and hasattr(value, "dtype") and getattr(value, "shape", None) == ():
        return _plain(value.item())  # a numpy scalar
    return f"<{type(value).__name__}>"


@lru_cache(maxsize=16)
def _compile_template(template: str) -> Any:
    """The same Jinja environment transformers renders chat templates in (templates are untrusted)."""
    import jinja2
    import jinja2.ext
    import jinja2.utils
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    if tuple(int(part) for part in jinja2.__version__.split(".")[:3] if part.isdigit()) < (3, 1, 6):
        raise ImportError(f"chat templates need jinja2>=3.1.6 (sandbox fixes); found {jinja2.__version__}")

    class GenerationBlock(jinja2.ext.Extension):
        """`{% generation %}` marks the assistant's text for training masks; rendering keeps the body."""

        tags = {"generation"}

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

        def _render(self, caller: Any) -> str:
            return str(caller())

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None,
               sort_keys: bool = False) -> str:
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format: str) -> str:  # noqa: A002 - the name templates call it with
        return datetime.now().strftime(format)

    class TemplateDict:
        def __call__(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
            return dict(*args, **kwargs)

        def fromkeys(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
            return dict.fromkeys(*args, **kwargs)

    class TemplateNamespace(jinja2.utils.Namespace):
        def __init__(*args: Any, **kwargs: Any) -> None:  # noqa: N805 - Jinja's own signature trick
            self, args = args[0], args[1:]
            attrs = dict(*args, **kwargs)
            for name in attrs:
                TemplateNamespace._check_name(name)
            jinja2.utils.Namespace.__init__(self, attrs)

        def __setitem__(self, name: str, value: Any) -> None:
            TemplateNamespace._check_name(name)
            jinja2.utils.Namespace.__setitem__(self, name, value)

        @staticmethod
        def _check_name(name: Any) -> None:
            if isinstance(name, str) and name.startswith("_"):
                raise jinja2.exceptions.SecurityError(
                    f"Chat templates cannot store underscore-prefixed attributes on a namespace, but got {name!r}.")

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationBlock, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    env.globals["dict"] = TemplateDict()
    env.globals["namespace"] = TemplateNamespace
    return env.from_string(template)


# bos_token, bos_token_id, eos_token, ... pad_token_id: read and set like transformers' attributes
# (the loader sets pad_token = eos_token; an id set is stored as its token).
def _special_property(name: str) -> property:
    return property(lambda self: self._get_special(name), lambda self, value: self._set_special(name, value))


def _special_id_property(name: str) -> property:
    return property(lambda self: self._special_id(name), lambda self, value: self._set_special_id(name, value))


for _name in SPECIAL_TOKEN_NAMES:
    setattr(LightTokenizer, _name, _special_property(_name))
    setattr(LightTokenizer, f"{_name}_id", _special_id_property(_name))
