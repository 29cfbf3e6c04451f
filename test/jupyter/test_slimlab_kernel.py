"""The official Jupyter kernel conformance suite (jupyter_kernel_test) against
the installed `slimlab` kernelspec. Run: python3 -m unittest from this folder
with Debian's python3 (see .ci/run)."""
import unittest

import jupyter_kernel_test as jkt


class SlimlabKernelTests(jkt.KernelTests):
    kernel_name = "slimlab"
    language_name = "typescript"
    file_extension = ".ts"

    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("oops")'

    completion_samples = [
        {"text": "Math.ma", "matches": {"max"}},
        {"text": "%lsma", "matches": {"%lsmagic"}},
        {"text": "%timeit --qu", "matches": {"--quiet"}},
        {"text": "%load_plugin --re", "matches": {"--reload"}},
    ]
    complete_code_samples = ["1 + 1", "const x = 1;", "%lsmagic", "%timeit -n 1 f()"]
    incomplete_code_samples = ["function f() {", "const a = [1,", "`unfinished"]
    invalid_code_samples = ["%nosuchmagic x", "%timeit --bogus 1 x", "let 3x = ;"]

    code_page_something = "%timeit?"
    code_generate_error = 'throw new Error("boom")'
    code_execute_result = [
        {"code": "1 + 2", "result": "3"},
        {"code": "[1, 2].map((x) => x * 2)", "result": "[ 2, 4 ]"},
        # Strings show quoted, as IPython and Node's REPL show them.
        {"code": '"text"', "result": "'text'"},
        {"code": "'a' + 'b'", "result": "'ab'"},
    ]
    # The suite checks that every display_data a sample sends has the sample's
    # MIME type. The session's first figure is preceded by plotly.js in a
    # display_data of its own (text/html only, kernel/display/plotly-loader.ts),
    # so the first plotly sample checks text/html, which both carry; the next
    # one sends the figure alone and checks the plotly type.
    code_display_data = [
        {"code": 'import { display } from "slimlab"; display.plotly({ data: [{ y: [2, 1] }] })', "mime": "text/html"},
        {"code": 'import { display } from "slimlab"; display.html("<b>hi</b>")', "mime": "text/html"},
        {"code": 'import { display } from "slimlab"; display.markdown("*hi*")', "mime": "text/markdown"},
        {"code": 'import { display } from "slimlab"; display.plotly({ data: [{ y: [1, 2] }] })', "mime": "application/vnd.plotly.v1+json"},
        {"code": 'import * as tslab from "tslab"; tslab.display.html("<b>hi</b>")', "mime": "text/html"},
    ]
    code_history_pattern = "1 +*"
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "Math.max"
    code_clear_output = 'import { clearOutput } from "slimlab"; clearOutput()'


if __name__ == "__main__":
    unittest.main()
