"""call_tool: the one entry point the engine uses; it must answer every call with a string."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dentro.chat.tools import TOOLS, ToolContext, call_tool, response_passages
from dentro.chat.tools.search import build_index


@pytest.fixture
def context(tmp_path):
    pq.write_table(pa.table({"text": ["Curitiba fica no Paraná.", "Tea is brewed below boiling."],
                             "url": ["https://x.example/c", None]}), tmp_path / "c.parquet")
    build_index(tmp_path / "c.parquet", tmp_path / "i.sqlite")
    return ToolContext(index_path=tmp_path / "i.sqlite", timeout_s=1, memory_mb=128)


def test_tools_are_openai_function_schemas():
    for name, tool in TOOLS.items():
        assert tool["type"] == "function" and tool["function"]["name"] == name
        assert tool["function"]["parameters"]["type"] == "object"


def test_search_and_python_calls(context):
    assert call_tool("search", {"query": "Parana"}, context=context) == \
        "[1] Curitiba fica no Paraná. (source: https://x.example/c)\nQuery: Parana"  # the query last
    unsourced = ToolContext(index_path=context.index_path, sources=False)
    assert call_tool("search", {"query": '"Curitiba" Parana'}, context=unsourced) == \
        '[1] Curitiba fica no Paraná.\nQuery: "Curitiba" Parana'
    spread = call_tool("search", {"query": "Parana\nQuery: Curitiba"}, context=unsourced)   # a model's odd query
    assert spread.endswith("\nQuery: Parana Query: Curitiba") and response_passages(spread) == "[1] Curitiba fica no Paraná."
    assert call_tool("search", '{"query": "zeppelin"}', context=context) == "No results."
    assert call_tool("python", {"code": "print(12345*6789)"}, context=context) == "83810205"
    assert call_tool("python", {"code": "x = 1"}, context=context).startswith("(no output")
    assert call_tool("python", {"code": "print(1)\n1/0"}, context=context) == \
        "1\nError: ZeroDivisionError: division by zero"


@pytest.mark.parametrize("name,arguments,error", [
    ("browse", {"url": "x"}, "Error: unknown tool 'browse'"),
    ("search", "{not json", "Error: arguments are not valid JSON"),
    ("search", ["query"], "Error: arguments must be a JSON object"),
    ("search", {}, "Error: search needs the argument(s) query"),
    ("search", {"query": "x", "k": 100}, "Error: search takes only query; unknown: k"),
    ("python", {"code": 42}, "Error: argument code must be a string"),
    ("python", {"code": "x" * 30_000}, "Error: argument code is 30000 characters"),
    (None, None, "Error: unknown tool None"),
])
def test_bad_calls_are_short_errors_not_exceptions(context, name, arguments, error):
    assert call_tool(name, arguments, context=context).startswith(error)


def test_a_failing_tool_is_an_error_string(tmp_path):
    assert call_tool("search", {"query": "x"}, context=ToolContext()) == "Error: no search index is available"
    out = call_tool("search", {"query": "x"}, context=ToolContext(index_path=tmp_path / "missing.sqlite"))
    assert out.startswith("Error: UserError: no search index at")
