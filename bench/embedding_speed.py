"""Embedding speed: plain sentence-transformers (torch fp32) against the service's int8 ONNX fast path.

Run `python -m bench.embedding_speed`. Both paths embed the same ~200 short complaints (the starter corpus plus the
ones below) at batch 1 and batch 64, side by side in one process: both are warmed up first, then the rounds
alternate between them and the median round counts, so that a neighbour's load hits both alike. It prints
embeddings per second, the ratio, and the cosine between the two paths' vectors of every text. The issue's target:
fast path >= 3x plain torch at batch 64, mean cosine >= 0.99; `--check` makes a miss exit 1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from linli.embedding import OnnxInt8Embedder, Vectors
from services.retrieval.cases import read_corpus
from services.retrieval.settings import RetrievalSettings

TARGET_RATIO = 3.0
TARGET_COSINE = 0.99
STARTER_CORPUS = Path(__file__).resolve().parent.parent / "services" / "retrieval" / "corpus" / "starter_cases.jsonl"

# Short complaints in residents' words, beyond the starter corpus, so the run has ~200 distinct texts.
EXTRA_COMPLAINTS = (
    "楼道灯坏了一个星期了,晚上下楼看不见",
    "电梯又停了,家里老人下不了楼",
    "楼上天天半夜拖椅子,吵得睡不着",
    "小区门口的垃圾桶满了没人清",
    "地下车库有积水,车开进去溅一身",
    "消防通道被私家车堵死了",
    "楼下餐馆油烟直冲我家窗户",
    "物业费涨了但服务一点没变好",
    "单元门禁坏了,谁都能进来",
    "有人在绿化带里种菜还浇粪水",
    "快递柜总是满的,快递堆在门口",
    "隔壁装修周末早上七点就开始砸墙",
    "小区里流浪狗越来越多,孩子害怕",
    "屋顶漏雨,墙皮都泡起来了",
    "自来水有一股铁锈味",
    "停车位被外来车辆占了",
    "健身器材坏了好久没人修",
    "楼道里堆满了杂物和纸箱",
    "二次供水水压太低,楼上用不了热水器",
    "小区监控好几个是坏的",
    "电动车在楼道里充电,太危险了",
    "有人高空抛物,差点砸到人",
    "业委会换届拖了一年还没选",
    "维修基金用在哪里从来不公示",
    "物业合同到期了,业主想换物业",
    "小区公共收益去哪了没人说得清",
    "广场舞音响太大声,晚上十点还在跳",
    "路灯不亮,小路上很黑",
    "化粪池满了,味道很大",
    "下水道堵了,污水返到地漏",
    "外墙瓷砖松动,随时可能掉下来",
    "儿童游乐设施生锈有毛刺",
    "有人私拉电线给电动车充电",
    "小区大门道闸坏了,车辆随便进出",
    "保安晚上在岗亭睡觉",
    "垃圾分类点离楼太近,夏天很臭",
    "楼顶被人私自搭了棚子",
    "一楼住户把公共绿地圈成自家院子",
    "地库出口坡道太滑,下雨天容易摔",
    "电梯年检标志过期了",
    "小区里有人养鸡,天不亮就叫",
    "共享单车乱停,把人行道都堵了",
    "楼下商铺占道经营",
    "燃气管道有味道,担心泄漏",
    "暖气不热,屋里只有十几度",
    "窗外的树枝伸进阳台,招虫子",
    "小区河道发黑发臭",
    "老人想办助餐卡不知道找谁",
    "社区卫生服务站周末不开门",
    "申请加装电梯,有邻居一直不同意",
    "业主群里有人造谣,影响很坏",
    "物业不开发票,收费也不给收据",
    "地下室被人群租,住了好多人",
    "楼道墙上贴满了小广告",
    "快递员把车停在消防通道上",
    "雨水管断了,下雨水直接冲墙",
    "门口马路坑坑洼洼,老人容易绊倒",
    "公交站离小区太远,希望加一站",
    "夜里有人在小区里飙摩托车",
    "充电桩太少,晚上排不上队",
    "楼上空调外机滴水到我家窗台",
    "宠物狗在电梯里随地大小便",
    "小区喷泉常年不开,池子里全是垃圾",
    "装修垃圾堆在楼下一个月没清运",
    "物业维修师傅上门要额外收费",
    "地面沉降,单元门口裂了一道大缝",
    "学校门口早晚高峰太堵",
    "菜市场搬走了,买菜很不方便",
    "居委会办事要跑好几趟",
    "低保申请交了材料一直没消息",
    "楼下理发店噪音大,晚上还营业",
    "小区围墙塌了一段,外人随便进",
    "自行车棚漏雨,车都淋坏了",
    "物业把公共区域租出去做广告",
    "老旧小区改造拖了很久没动工",
    "楼道声控灯太灵敏,一晚上亮个不停",
    "家门口的井盖松了,一踩就响",
    "邻居在楼道里养了好多盆栽挡路",
    "小区里有人烧纸,烟很大",
    "中午有人在楼下收废品一直吆喝",
)


@dataclass(frozen=True)
class Speed:
    """One path at one batch size: median embeddings per second over the rounds, and every round's figure.

    `per_cpu_second` divides by the process's CPU time instead of wall time: with `--threads 1` it barely moves when
    other processes share the cores, so it is the figure to compare on a busy machine.
    """

    per_second: float
    per_cpu_second: float
    rounds: tuple[float, ...]


def complaints(limit: int) -> list[str]:
    """The starter corpus's complaints followed by the extra ones, at most `limit`."""
    texts = [case.complaint for case in read_corpus(STARTER_CORPUS)] + list(EXTRA_COMPLAINTS)
    return texts[:limit]


def embed_all(embed: Callable[[list[str]], Vectors], texts: list[str], batch: int) -> Vectors:
    """Embeds `texts` in calls of `batch` texts, as callers of the service would."""
    return np.concatenate([embed(texts[start : start + batch]) for start in range(0, len(texts), batch)])


def measure(
    paths: dict[str, Callable[[list[str]], Vectors]], texts: list[str], batch: int, rounds: int
) -> dict[str, Speed]:
    """Alternates the paths round by round, so that load from other processes falls on each alike."""
    seconds: dict[str, list[float]] = {name: [] for name in paths}
    cpu_seconds: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, embed in paths.items():
            started, cpu_started = time.perf_counter(), time.process_time()
            embed_all(embed, texts, batch)
            seconds[name].append(time.perf_counter() - started)
            cpu_seconds[name].append(time.process_time() - cpu_started)
    return {
        name: Speed(
            len(texts) / statistics.median(times),
            len(texts) / statistics.median(cpu_seconds[name]),
            tuple(len(texts) / t for t in times),
        )
        for name, times in seconds.items()
    }


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.embedding_speed", description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=200, help="how many complaints (at most 200)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per path and batch size")
    parser.add_argument("--batches", type=str, default="1,64", help="batch sizes, comma-separated")
    parser.add_argument(
        "--texts-per-run",
        type=str,
        default="1,16",
        help="int8 texts per ONNX Runtime call, comma-separated; the first is the one the targets judge",
    )
    parser.add_argument("--threads", type=int, default=0, help="threads of torch and ORT alike; 0: their defaults")
    parser.add_argument("--model-path", type=Path, default=None, help="model folder (default: the service's)")
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="where to export the int8 model (default: the service's)"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    return parser


def build_paths(args: argparse.Namespace) -> dict[str, Callable[[list[str]], Vectors]]:
    """Plain torch fp32 first, then the int8 fast path at each `--texts-per-run`."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    settings = RetrievalSettings()
    model_path = args.model_path or settings.resolved_model_path()
    if args.threads:
        torch.set_num_threads(args.threads)
    plain = SentenceTransformer(str(model_path), device="cpu")
    plain.max_seq_length = settings.max_seq_length

    def torch_fp32(texts: list[str]) -> Vectors:
        vectors = plain.encode(texts, batch_size=len(texts), normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    paths: dict[str, Callable[[list[str]], Vectors]] = {"torch fp32 (plain encode)": torch_fp32}
    for texts_per_run in (int(count) for count in args.texts_per_run.split(",")):
        started = time.perf_counter()
        fast = OnnxInt8Embedder(
            model_path,
            cache_dir=args.cache_dir or settings.model_cache_dir,
            max_seq_length=settings.max_seq_length,
            texts_per_run=texts_per_run,
            threads=args.threads,
        )
        print(f"int8 ready in {time.perf_counter() - started:.1f} s: {fast.model_file}", flush=True)
        paths[f"int8, {texts_per_run} text(s) per run"] = fast.embed
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Measures both paths and prints the figures; 0, or 1 with `--check` when a target is missed."""
    parser = build_parser()
    args = parser.parse_args(argv)
    batches = [int(batch) for batch in args.batches.split(",")]
    if not 1 <= args.texts <= 200 or args.rounds < 1 or min(batches) < 1 or args.threads < 0:
        parser.error("need 1 <= --texts <= 200, --rounds >= 1, batch sizes >= 1 and --threads >= 0")
    texts = complaints(args.texts)
    paths = build_paths(args)
    names = list(paths)
    # Also the warm-up: every path has run every text once before the clock starts.
    vectors = {name: embed_all(embed, texts, 64) for name, embed in paths.items()}
    print(
        f"{len(texts)} complaints, {args.rounds} rounds, load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores"
    )
    ratios: dict[int, float] = {}
    for batch in batches:
        speeds = measure(paths, texts, batch, args.rounds)
        baseline = speeds[names[0]].per_second
        for name, speed in speeds.items():
            rounds = ", ".join(f"{figure:.0f}" for figure in speed.rounds)
            ratio = f"{speed.per_second / baseline:5.2f}x"
            cpu = f"{speed.per_cpu_second:6.1f}/cpu-s {speed.per_cpu_second / speeds[names[0]].per_cpu_second:5.2f}x"
            print(
                f"batch {batch:>3}  {name:<28} {speed.per_second:7.1f}/s {ratio}  {cpu}  (rounds: {rounds})", flush=True
            )
        ratios[batch] = speeds[names[1]].per_second / baseline
    print(f"load average afterwards {os.getloadavg()[0]:.1f}")
    for name in names[1:]:
        cosines = np.sum(vectors[names[0]] * vectors[name], axis=1)
        print(f"cosine to torch fp32, {name}: mean {cosines.mean():.4f}, min {cosines.min():.4f}")
    mean_cosine = float(np.mean(np.sum(vectors[names[0]] * vectors[names[1]], axis=1)))
    missed = []
    if 64 in ratios and ratios[64] < TARGET_RATIO:
        missed.append(f"batch-64 ratio {ratios[64]:.2f} < {TARGET_RATIO}")
    if mean_cosine < TARGET_COSINE:
        missed.append(f"mean cosine {mean_cosine:.4f} < {TARGET_COSINE}")
    print(f"targets ({names[1]}): " + ("met" if not missed else "missed: " + "; ".join(missed)))
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
