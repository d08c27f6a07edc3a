"""LightTokenizer gives exactly what AutoTokenizer gives for the same folder, without transformers or torch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cw_desktop.ml.light_tokenizer import LightTokenizer, load_light_tokenizer

BUNDLED_FOLDER = Path(os.path.expanduser("~/.cache/cw_desktop/models/bundled-smollm2-135m-0.1.2"))

TEXTS = [
    "The storm broke over the harbour and",
    " a leading space, then  two   spaces and a tab\there",
    "“Curly quotes,” she said — with an em dash… and ‘single’ ones.",
    "Accents: café, naïve, Ærøskøbing, Œuvre, São Paulo, İstanbul.",
    "CJK: 東京は雨でした。 한국어 텍스트. 中文字符",
    "Emoji 🙂🎉👩‍👩‍👧 and a flag 🇳🇿 mid-sentence.",
    "Line one\nLine two\n\n\nAfter blank lines\r\nwindows line\n",
    "\t\tIndented with tabs\n    and with spaces",
    "Don't stop , they 're here . Isn 't it ?",
    "<|endoftext|>inside text<|im_start|>user\nHi<|im_end|>",
    "The end of one story </s>   <s>and the next",
    "",
    " ",
    "x",
]

CHAT_TEMPLATE = (
    "{% set ns = namespace(system='') %}"
    "{% for message in messages %}\n"
    "  {% if message['role'] not in ['system', 'user', 'assistant'] %}"
    "{{ raise_exception('Unknown role ' + message['role']) }}{% endif %}\n"
    "  {% if message['role'] == 'system' %}{% set ns.system = message['content'] %}{% continue %}{% endif %}\n"
    "{{ bos_token }}{{ message['role'] }} {{ {'len': message['content'] | length} | tojson }}\n"
    "  {% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] }}{% endgeneration %}"
    "{% else %}{{ ns.system ~ ' | ' ~ message['content'] }}{% endif %}{{ eos_token }}\n"
    "{% endfor %}\n"
    "{% if add_generation_prompt %}{{ bos_token }}assistant\n{% endif %}"
)

MESSAGES = [{"role": "system", "content": "You help a novelist. Be brief."},
            {"role": "user", "content": "Rewrite: “The rain — it fell,” she said. Café? 東京 🙂"}]


def _auto(folder: Path):
    from cw_desktop.ml.loading import auto_tokenizer

    return auto_tokenizer(folder)


@pytest.fixture(scope="module")
def chat_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny tokenizer re-saved by transformers with extra special tokens, a chat template and no pad
    token (a TokenizersBackend folder, as fine-tunes of the bundled model are saved)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.add_special_tokens({"extra_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tokenizer.add_tokens(["writerly"])
    tokenizer.pad_token = None
    tokenizer.chat_template = CHAT_TEMPLATE
    folder = tmp_path_factory.mktemp("tiny-chat")
    tokenizer.save_pretrained(folder)
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["tokenizer_class"] = "TokenizersBackend"
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def _assert_same(light: LightTokenizer, auto) -> None:
    assert len(light) == len(auto)
    assert light.get_vocab() == auto.get_vocab()
    every_id = list(range(len(auto)))
    assert light.convert_ids_to_tokens(every_id) == auto.convert_ids_to_tokens(every_id)
    assert light.batch_decode([[i] for i in every_id]) == auto.batch_decode([[i] for i in every_id])
    assert light.all_special_ids == auto.all_special_ids
    assert light.all_special_tokens == auto.all_special_tokens
    assert light.special_tokens_map == auto.special_tokens_map
    for name in ("bos_token", "eos_token", "unk_token", "pad_token"):
        assert getattr(light, name) == getattr(auto, name), name
        assert getattr(light, f"{name}_id") == getattr(auto, f"{name}_id"), name
    for text in TEXTS:
        for special in (True, False):
            ids = light.encode(text, add_special_tokens=special)
            assert ids == auto.encode(text, add_special_tokens=special), (text, special)
            for skip in (True, False):
                for clean in (None, True, False):
                    assert (light.decode(ids, skip_special_tokens=skip, clean_up_tokenization_spaces=clean)
                            == auto.decode(ids, skip_special_tokens=skip, clean_up_tokenization_spaces=clean))
    # Plain prose survives the round trip unchanged.
    assert light.decode(light.encode(TEXTS[0], add_special_tokens=False)) == TEXTS[0]


def _assert_same_chat(light: LightTokenizer, auto) -> None:
    assert light.chat_template == auto.chat_template
    for prompt in (True, False):
        text = light.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=prompt)
        assert text == auto.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=prompt)
        assert MESSAGES[1]["content"] in text
        # The engine tokenizes the rendered text itself: the same ids transformers' tokenized chat has.
        ids = light.encode(text, add_special_tokens=False)
        assert ids == auto.apply_chat_template(MESSAGES, add_generation_prompt=prompt, return_dict=False)
        assert light.decode(ids) == text


@pytest.mark.parametrize("tokenizer_class", ["GPT2Tokenizer", "GPT2TokenizerFast", "TokenizersBackend",
                                             "PreTrainedTokenizerFast"])
def test_the_tiny_gpt2_tokenizer_matches_autotokenizer(tiny_model_dir: Path, tmp_path: Path,
                                                      tokenizer_class: str) -> None:
    folder = tmp_path / "tiny"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["tokenizer_class"] == "GPT2Tokenizer"  # as the fixture saves it
    config["tokenizer_class"] = tokenizer_class
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    light, auto = load_light_tokenizer(folder), _auto(folder)
    assert light is not None
    _assert_same(light, auto)
    with pytest.raises(ValueError):  # no chat template: the callers fall back to document framing
        light.apply_chat_template(MESSAGES, tokenize=False)
    assert not light.chat_template and not auto.chat_template


def test_a_tokenizer_with_chat_template_and_added_tokens_matches(chat_dir: Path) -> None:
    light, auto = load_light_tokenizer(chat_dir), _auto(chat_dir)
    assert light is not None
    assert "<|im_start|>" in light.all_special_tokens and "writerly" in light.get_vocab()
    _assert_same(light, auto)
    _assert_same_chat(light, auto)
    with pytest.raises(Exception, match="Unknown role"):
        light.apply_chat_template([{"role": "narrator", "content": "x"}], tokenize=False)


def test_special_tokens_the_vocabulary_lacks_are_added_as_transformers_adds_them(tiny_model_dir: Path,
                                                                                tmp_path: Path) -> None:
    """bos/eos named in tokenizer_config.json (one as an AddedToken dict that strips spaces on its left)
    but absent from tokenizer.json: both get new ids and split the text the same way."""
    folder = tmp_path / "new-specials"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    config.update(bos_token="<s>", eos_token={"__type": "AddedToken", "content": "</s>", "lstrip": True,
                                             "rstrip": False, "normalized": False, "single_word": False,
                                             "special": True}, tokenizer_class="TokenizersBackend",
                  # Ignored beside a tokenizer.json, whose post-processor decides (here: adds nothing).
                  add_bos_token=True, add_eos_token=True)
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    light, auto = load_light_tokenizer(folder), _auto(folder)
    assert light is not None and len(light) == len(_auto(tiny_model_dir)) + 2
    assert light.encode("Once upon") == light.encode("Once upon", add_special_tokens=False)
    _assert_same(light, auto)


def test_pad_token_is_settable_like_transformers(chat_dir: Path) -> None:
    light, auto = load_light_tokenizer(chat_dir), _auto(chat_dir)
    assert light is not None and light.pad_token_id is None and auto.pad_token_id is None
    light.pad_token = light.eos_token  # what the model loaders do
    auto.pad_token = auto.eos_token
    assert light.pad_token_id == auto.pad_token_id == light.eos_token_id
    assert light.all_special_ids == auto.all_special_ids
    light.pad_token_id = light.bos_token_id
    assert light.pad_token == light.bos_token


def test_folders_it_cannot_reproduce_are_left_to_transformers(tiny_model_dir: Path, tmp_path: Path) -> None:
    assert load_light_tokenizer(tmp_path) is None  # no tokenizer files at all

    def variant(name: str, **changes) -> Path:
        folder = tmp_path / name
        shutil.copytree(tiny_model_dir, folder)
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        config.update(changes)
        (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
        return folder

    assert load_light_tokenizer(variant("llama-class", tokenizer_class="LlamaTokenizerFast")) is None
    assert load_light_tokenizer(variant("custom-code", auto_map={"AutoTokenizer": ["x.Tok", None]})) is None
    assert load_light_tokenizer(variant("split", split_special_tokens=True)) is None
    assert load_light_tokenizer(variant("prefix-space", add_prefix_space=True)) is None  # file says False
    no_json = variant("no-json")
    (no_json / "tokenizer.json").unlink()
    assert load_light_tokenizer(no_json) is None
    assert load_light_tokenizer(variant("plain")) is not None


def test_loading_imports_neither_torch_nor_transformers(chat_dir: Path) -> None:
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from cw_desktop.ml.light_tokenizer import load_light_tokenizer\n"
        f"tok = load_light_tokenizer(Path({str(chat_dir)!r}))\n"
        "tok.decode(tok.encode('Hello there', add_special_tokens=False))\n"
        f"tok.apply_chat_template({MESSAGES!r}, tokenize=False, add_generation_prompt=True)\n"
        "print(json.dumps([tok is not None, sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'transformers'))]))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr
    loaded, heavy = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded and heavy == []


@pytest.mark.slow
@pytest.mark.skipif(not (BUNDLED_FOLDER / "tokenizer.json").is_file(), reason="bundled model not prepared")
def test_the_bundled_smollm2_tokenizer_matches_autotokenizer() -> None:
    light, auto = load_light_tokenizer(BUNDLED_FOLDER), _auto(BUNDLED_FOLDER)
    assert light is not None
    _assert_same(light, auto)
    _assert_same_chat(light, auto)
    light.pad_token, auto.pad_token = light.eos_token, auto.eos_token
    assert light.pad_token_id == auto.pad_token_id
