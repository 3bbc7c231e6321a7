"""A dossier as print-ready HTML (zh-CN, A4) or JSON.

The JSON carries, per entry, the exact leaf bytes (the canonical JSON) and
its audit path, so a reader can check every proof with nothing but SHA-256
and an Ed25519 verifier; the HTML says how, for a person with a printout.
"""

from __future__ import annotations

import base64
import json
from html import escape
from typing import Any

from audit.domain.dossier import Dossier
from audit.domain.hashing import canonical_json, canonical_time
from audit.domain.tree_head import ALGORITHM, TreeHead

STATUS_ZH = {
    "open": "处置中",
    "awaiting_verification": "待核查",
    "rework": "返工",
    "verified": "核查通过",
    "closed": "已结案",
    "rejected": "不予立案",
    "merged": "已合并",
    "backlogged": "挂账",
}
HOW_TO_VERIFY = (
    "叶哈希 = SHA-256(0x00 ‖ 规范化条目 JSON)；审计路径逐级与相邻子树哈希合并："
    "SHA-256(0x01 ‖ 左 ‖ 右)（RFC 6962 §2.1.1）；所得根哈希须等于签名树头的根哈希。"
    "签名树头：Ed25519 签名覆盖 0x00 ‖ 0x01 ‖ 时间戳(毫秒, 8字节大端) ‖ 树大小(8字节大端) ‖ 根哈希（RFC 6962 §3.5）。"
)


def dossier_json(d: Dossier) -> bytes:
    return json.dumps(_document(d), ensure_ascii=False, indent=2).encode()


def _document(d: Dossier) -> dict[str, Any]:
    return {
        "format": "cityops.audit.dossier.v1",
        "case_id": d.case_id,
        "generated_at": canonical_time(d.generated_at),
        "status": d.status,
        "reason_code": d.reason_code,
        "machine_verified": d.machine_verified,
        "category_code": d.facts.category_code,
        "category_name": d.category_name,
        "title": d.facts.title,
        "district_code": d.facts.district_code,
        "departments": list(d.facts.departments),
        "tree_head": _head(d.head, d.public_key),
        "how_to_verify": HOW_TO_VERIFY,
        "entries": [
            {
                "sequence": item.entry.sequence,
                "occurred_at": canonical_time(item.entry.occurred_at),
                "summary": item.entry.summary,
                "event_type": item.entry.event_type,
                "actor_user_id": item.entry.actor_user_id,
                "department_id": item.entry.department_id,
                "trace_id": item.entry.trace_id,
                "span_id": item.entry.span_id,
                "payload_sha256": item.entry.payload_sha256,
                "leaf": canonical_json(item.entry).decode(),
                "leaf_hash": item.entry.leaf_hash,
                "leaf_index": item.entry.sequence - 1,
                "audit_path": [h.hex() for h in item.audit_path]
                if item.audit_path is not None
                else None,
            }
            for item in d.entries
        ],
        "evidence": [e.__dict__ for e in d.evidence],
        "problems": list(d.problems),
    }


def _head(head: TreeHead | None, public_key: bytes | None) -> dict[str, Any] | None:
    if head is None:
        return None
    return {
        "tree_size": head.tree_size,
        "root_hash": head.root_hash.hex(),
        "timestamp_ms": head.timestamp_ms,
        "signed_at": canonical_time(head.signed_at),
        "key_id": head.key_id,
        "signature": base64.b64encode(head.signature).decode(),
        "signature_algorithm": ALGORITHM,
        "public_key": base64.b64encode(public_key).decode() if public_key else None,
    }


def dossier_html(d: Dossier) -> bytes:
    doc = _document(d)
    head = doc["tree_head"]
    rows = "".join(_entry_row(e) for e in doc["entries"])
    evidence = "".join(
        f"<tr><td>{e['sequence']}</td><td>{_e(e['stage'])}</td><td class=h>{_e(e['uri'])}</td>"
        f"<td class=h>{_e(e['sha256'])}</td><td>{_e(e['media_type'])}</td></tr>"
        for e in doc["evidence"]
    )
    facts = [
        ("案件编号", d.case_id),
        ("类别", f"{d.facts.category_code} {d.category_name}".strip()),
        ("标题", d.facts.title),
        ("所属区", d.facts.district_code),
        ("处置单位", "、".join(d.facts.departments)),
        ("状态", STATUS_ZH.get(d.status, d.status)),
        ("结案原因", d.reason_code + ("（机器核查）" if d.machine_verified else "")),
        ("生成时间", doc["generated_at"]),
    ]
    return _PAGE.format(
        case_id=_e(d.case_id),
        facts="".join(f"<tr><th>{k}</th><td>{_e(v)}</td></tr>" for k, v in facts),
        head=_head_table(head),
        rows=rows,
        evidence=evidence or "<tr><td colspan=5>无</td></tr>",
        problems="".join(f"<li>{_e(p)}</li>" for p in d.problems),
        how=_e(HOW_TO_VERIFY),
    ).encode()


def _entry_row(e: dict[str, Any]) -> str:
    path = e["audit_path"]
    if path:
        proof = "<br>".join(_e(h) for h in path)
    else:
        proof = "（树仅此一条，叶哈希即根）" if path == [] else "尚未被签名树头覆盖"
    return (
        f"<tr><td>{e['sequence']}</td><td>{_e(e['occurred_at'])}</td><td>{_e(e['summary'])}</td>"
        f"<td>{_e(e['actor_user_id'])}<br>{_e(e['department_id'])}</td>"
        f"<td class=h>{_e(e['trace_id'])}<br>{_e(e['span_id'])}</td>"
        f"<td class=h>{_e(e['leaf_hash'])}</td><td class=h>{proof}</td></tr>"
    )


def _head_table(head: dict[str, Any] | None) -> str:
    if head is None:
        return "<p>尚无签名树头。</p>"
    items = [
        ("树大小", head["tree_size"]),
        ("根哈希", head["root_hash"]),
        ("签名时间", head["signed_at"]),
        ("密钥标识", head["key_id"]),
        ("公钥 (base64)", head["public_key"] or "（本机未信任该密钥）"),
        ("签名 (base64)", head["signature"]),
    ]
    return (
        "<table>"
        + "".join(f"<tr><th>{k}</th><td class=h>{_e(str(v))}</td></tr>" for k, v in items)
        + "</table>"
    )


def _e(value: object) -> str:
    return escape(str(value), quote=True)


_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>案卷 {case_id}</title>
<style>
@page {{ size: A4; margin: 15mm; }}
body {{ font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif;
  font-size: 10pt; color: #000; }}
h1 {{ font-size: 16pt; }} h2 {{ font-size: 12pt; margin-top: 1.2em; }}
table {{ border-collapse: collapse; width: 100%; margin: .4em 0; }}
th, td {{ border: 1px solid #555; padding: 3px 5px; vertical-align: top; text-align: left; }}
th {{ background: #eee; white-space: nowrap; }}
.h {{ font-family: monospace; font-size: 7.5pt; word-break: break-all; }}
tr {{ page-break-inside: avoid; }}
</style></head><body>
<h1>案卷 {case_id}</h1>
<table>{facts}</table>
<h2>签名树头</h2>
{head}
<h2>时间线与包含证明</h2>
<table><tr><th>序号</th><th>时间 (UTC)</th><th>步骤</th><th>人员/单位</th><th>trace / span</th>
<th>叶哈希</th><th>审计路径</th></tr>{rows}</table>
<h2>证据哈希</h2>
<table><tr><th>序号</th><th>环节</th><th>地址</th><th>SHA-256</th><th>类型</th></tr>{evidence}</table>
<ul>{problems}</ul>
<h2>如何核验</h2>
<p>{how}</p>
</body></html>
"""
