"""Evaluates a Rego query on a JSON plan with regopy: eval.py POLICY PLAN QUERY."""

import json
import sys

import regopy

policy, plan, query = sys.argv[1:4]
interpreter = regopy.Interpreter()
with open(policy, encoding="utf-8") as f:
    interpreter.add_module("policy", f.read())
with open(plan, encoding="utf-8") as f:
    interpreter.set_input_term(f.read())
result = json.loads(str(interpreter.query(f"x = {query}")))
json.dump(result["bindings"]["x"], sys.stdout)
