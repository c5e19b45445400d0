import ast, pathlib, sys
ORDER = [["events","errors","config","private","words"],["audio","screen","actions","models","service"],["stt","tts","llm","profiles"],["listen","brain"],["daemon"],["wiring"],["cli","__main__"]]
rank = {m:i for i,g in enumerate(ORDER) for m in g}
root = pathlib.Path(sys.argv[1] if len(sys.argv)>1 else "loki")
for f in sorted(root.rglob("*.py")):
    rel = f.relative_to(root.parent).with_suffix("")
    parts = rel.parts
    top = parts[1] if len(parts)>1 else parts[0]
    if top == "__init__": continue
    me = rank.get(top)
    tree = ast.parse(f.read_text())
    for node in ast.walk(tree):
        mods = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("loki"):
            mods=[node.module]
            if node.module=="loki": mods=["loki."+a.name for a in node.names]
        elif isinstance(node, ast.Import):
            mods=[a.name for a in node.names if a.name.startswith("loki")]
        for m in mods:
            p = m.split(".")
            if len(p)<2: continue
            t = rank.get(p[1])
            if me is None or t is None:
                if t is None or me is None: print(f"UNRANKED {'/'.join(parts)} -> {m}")
                continue
            if t>me: print(f"UP {'/'.join(parts)} ({top}) -> {m}")
