"""Rule identifiers of the model scanner and their one-line descriptions (used by SARIF)."""

from __future__ import annotations

PICKLE_GLOBAL_CRITICAL = "MW-PICKLE-001"
PICKLE_GLOBAL_UNKNOWN = "MW-PICKLE-002"
PICKLE_CALL_UNRESOLVED = "MW-PICKLE-003"
PICKLE_STACK_GLOBAL_UNRESOLVED = "MW-PICKLE-004"
PICKLE_EXT = "MW-PICKLE-005"
PICKLE_MALFORMED = "MW-PICKLE-006"
PICKLE_TRAILING = "MW-PICKLE-007"
PICKLE_MUTATES_GLOBAL = "MW-PICKLE-008"
PICKLE_PERSID = "MW-PICKLE-009"
PICKLE_HIGHER_ORDER = "MW-PICKLE-010"
PICKLE_JOBLIB_LAYOUT = "MW-PICKLE-011"
PICKLE_FRAMING = "MW-PICKLE-012"
PICKLE_EMBEDDED = "MW-PICKLE-013"
ARCHIVE_UNREADABLE = "MW-ARCHIVE-001"
ARCHIVE_BOMB = "MW-ARCHIVE-002"
ARCHIVE_INCONSISTENT = "MW-ARCHIVE-003"
ARCHIVE_PATH = "MW-ARCHIVE-004"
FORMAT_UNKNOWN = "MW-FORMAT-001"
FORMAT_MALFORMED = "MW-FORMAT-002"
FORMAT_POLYGLOT = "MW-FORMAT-003"
KERAS_LAMBDA = "MW-KERAS-001"
KERAS_MODULE = "MW-KERAS-002"
KERAS_CUSTOM = "MW-KERAS-003"
TF_OP = "MW-TF-001"
ONNX_EXTERNAL_DATA = "MW-ONNX-001"
ONNX_CUSTOM_DOMAIN = "MW-ONNX-002"
SAFETENSORS_INVALID = "MW-SAFETENSORS-001"
GGUF_INVALID = "MW-GGUF-001"
TEMPLATE_PRIVATE = "MW-TEMPLATE-001"
TEMPLATE_COMPUTED = "MW-TEMPLATE-002"
TEMPLATE_GLOBAL = "MW-TEMPLATE-003"
TEMPLATE_LOAD = "MW-TEMPLATE-004"
TEMPLATE_UNPARSED = "MW-TEMPLATE-005"
SCAN_ERROR = "MW-SCAN-001"

RULES: dict[str, str] = {
    PICKLE_GLOBAL_CRITICAL: "Pickle imports a global that executes code, reads or writes files, "
    "or reaches the network (os.system, builtins.eval, subprocess.*, runpy ...).",
    PICKLE_GLOBAL_UNKNOWN: "Pickle imports a global that is not on the allowlist of known-safe "
    "reconstruction functions and classes; review it before loading.",
    PICKLE_CALL_UNRESOLVED: "Pickle invokes something that is not an allowlisted global "
    "(the result of another call, an attribute, an unknown memo entry).",
    PICKLE_STACK_GLOBAL_UNRESOLVED: "STACK_GLOBAL operands are not plain strings the scanner "
    "can resolve, so the imported global is unknown.",
    PICKLE_EXT: "Pickle uses an extension-registry code (EXT1/2/4) whose target is unknown.",
    PICKLE_MALFORMED: "Pickle stream is malformed or truncated; a payload may run before the break.",
    PICKLE_TRAILING: "Data after the end of a pickle could not be parsed as another pickle.",
    PICKLE_MUTATES_GLOBAL: "Pickle mutates an imported global object (BUILD/SETITEM/APPEND on it).",
    PICKLE_PERSID: "Pickle uses persistent ids outside a container that defines them.",
    PICKLE_HIGHER_ORDER: "An allowlisted function receives a callable argument that is not an "
    "allowlisted global.",
    PICKLE_JOBLIB_LAYOUT: "joblib array payload layout is not what joblib writes; the bytes may "
    "be read as pickle opcodes by another loader.",
    PICKLE_FRAMING: "Pickle FRAME lengths disagree with the opcodes (a frame overrun, a frame "
    "inside a frame, a frame longer than the data): unpicklers may read it differently.",
    PICKLE_EMBEDDED: "Pickle holds another pickle as a bytes, base64 or hex constant that no "
    "loader in the stream consumes; it runs if the caller unpickles that value.",
    ARCHIVE_UNREADABLE: "Archive cannot be read completely; what a loader would extract is unknown.",
    ARCHIVE_BOMB: "Archive exceeds size, ratio, depth or member-count limits.",
    ARCHIVE_INCONSISTENT: "Archive headers disagree (local header vs central directory, CRC).",
    ARCHIVE_PATH: "Archive member path is absolute or escapes the extraction directory.",
    FORMAT_UNKNOWN: "File format not recognised; the file was not scanned.",
    FORMAT_MALFORMED: "File is malformed for its format; loaders may behave unpredictably.",
    FORMAT_POLYGLOT: "File of another format also reads as a pickle that imports globals "
    "(format confusion: pickle-based loaders ignore magic bytes).",
    KERAS_LAMBDA: "Keras model contains a Lambda layer or serialized Python code.",
    KERAS_MODULE: "Keras config references a module outside the allowlisted Keras namespaces.",
    KERAS_CUSTOM: "Keras config references a registered custom object (user code).",
    TF_OP: "TensorFlow graph uses an op outside the compute-op allowlist (CRITICAL when it "
    "runs Python, touches files or prints).",
    ONNX_EXTERNAL_DATA: "ONNX external data path is absolute or escapes the model directory.",
    ONNX_CUSTOM_DOMAIN: "ONNX model uses a custom operator domain (native code must be loaded).",
    SAFETENSORS_INVALID: "safetensors header is inconsistent (bounds, offsets, dtype, metadata).",
    GGUF_INVALID: "GGUF header or key/value section is malformed.",
    TEMPLATE_PRIVATE: "Jinja template reaches a dunder, underscored or interpreter-internal "
    "attribute (template injection: __class__, __globals__, format-string fields ...).",
    TEMPLATE_COMPUTED: "Jinja template looks an attribute or item up by a name it builds at "
    "render time (~, %, format, join, attr filter), hiding the name from static reading.",
    TEMPLATE_GLOBAL: "Jinja template looks inside a helper global (cycler, joiner, lipsum, "
    "namespace, range, self, request, config ...), a way into module globals.",
    TEMPLATE_LOAD: "Jinja template imports, includes or extends another template.",
    TEMPLATE_UNPARSED: "Jinja template does not parse, or exceeds a scanner bound, so what a "
    "renderer would run is unchecked (fail closed).",
    SCAN_ERROR: "The scanner could not complete on this file (treated as unsafe).",
}
