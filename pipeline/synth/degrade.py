"""Scanner and camera effects on rendered pages, so synthetic scans fail the way real ones do.

Every effect is drawn from the caller's random generators and named in the returned list,
which goes into the truth as the page's `degradations`.
"""

from __future__ import annotations

import random

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict

__all__ = ["ScanPlan", "plan_scan", "degrade_page", "photograph_card"]


class ScanPlan(BaseModel):
    """How one page is scanned. `rotation` is the clockwise turn of the content in the file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dpi: int
    rotation: int
    skew: float
    noise: float
    blur: bool
    jpeg_quality: int | None
    faint: bool
    speckle: bool
    border: bool


def plan_scan(rng: random.Random, dpi: int | None = None) -> ScanPlan:
    return ScanPlan(
        dpi=dpi or rng.choice((150, 200, 200, 200, 240, 300)),
        rotation=rng.choice((90, 180, 270)) if rng.random() < 0.12 else 0,
        skew=round(rng.choice((-1, 1)) * rng.uniform(0.5, 3.0), 2) if rng.random() < 0.7 else 0.0,
        noise=rng.choice((0.0, 4.0, 7.0, 11.0)),
        blur=rng.random() < 0.35,
        jpeg_quality=rng.choice((None, 35, 55, 75)),
        faint=rng.random() < 0.15,
        speckle=rng.random() < 0.3,
        border=rng.random() < 0.3,
    )


def degrade_page(
    gray: np.ndarray, plan: ScanPlan, nrng: np.random.Generator
) -> tuple[np.ndarray, list[str]]:
    """Apply `plan` to a clean uint8 grayscale page; returns the scan and the effect names."""
    img: np.ndarray = gray.astype(np.float32)
    done: list[str] = []
    if plan.faint:
        img = 255.0 - (255.0 - img) * float(nrng.uniform(0.35, 0.6))
        img += float(nrng.uniform(5, 25))
        done.append("low_contrast")
    if plan.blur:
        img = cv2.GaussianBlur(img, (3, 3), float(nrng.uniform(0.6, 1.1)))
        done.append("blur")
    if plan.skew:
        h, w = img.shape
        m = cv2.getRotationMatrix2D((w / 2, h / 2), plan.skew, 1.0)
        img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=(255.0,))
        done.append(f"skew:{plan.skew:+.2f}")
    if plan.noise:
        img += nrng.normal(0.0, plan.noise, img.shape).astype(np.float32)
        done.append("gaussian_noise")
    if plan.border:
        h, w = img.shape
        bw = int(nrng.integers(max(4, w // 100), max(6, w // 30)))
        side = int(nrng.integers(0, 4))
        dark = float(nrng.uniform(10, 60))
        if side == 0:
            img[:, :bw] = dark
        elif side == 1:
            img[:, w - bw :] = dark
        elif side == 2:
            img[:bw, :] = dark
        else:
            img[h - bw :, :] = dark
        img[: max(2, bw // 3), :] = dark
        done.append("dark_border")
    out: np.ndarray = np.clip(img, 0, 255).astype(np.uint8)
    if plan.speckle:
        n = int(out.size * float(nrng.uniform(0.0005, 0.002)))
        ys = nrng.integers(0, out.shape[0], n)
        xs = nrng.integers(0, out.shape[1], n)
        out[ys, xs] = np.where(nrng.random(n) < 0.5, 0, 255).astype(np.uint8)
        done.append("salt_pepper")
    if plan.jpeg_quality is not None:
        ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, plan.jpeg_quality])
        decoded = cv2.imdecode(enc, cv2.IMREAD_GRAYSCALE) if ok else None
        if decoded is None:
            raise ValueError(
                f"JPEG round trip failed at quality {plan.jpeg_quality} (valid: 1-100)"
            )
        out = np.asarray(decoded)
        done.append(f"jpeg:{plan.jpeg_quality}")
    if plan.rotation:
        out = np.ascontiguousarray(np.rot90(out, k=-(plan.rotation // 90)))
        done.append(f"rotate:{plan.rotation}")
    return out, done


def photograph_card(
    card_rgb: np.ndarray, rng: random.Random, nrng: np.random.Generator
) -> tuple[np.ndarray, list[str]]:
    """A phone photo of a card: on a table, slightly turned and in perspective, uneven light."""
    ch, cw = card_rgb.shape[:2]
    pad = int(max(ch, cw) * 0.35)
    H, W = ch + 2 * pad, cw + 2 * pad
    table = np.array(
        rng.choice(((92, 64, 40), (150, 150, 145), (60, 60, 70), (180, 160, 130))), dtype=np.float32
    )
    bg = np.ones((H, W, 3), np.float32) * table
    bg += nrng.normal(0, 6, (H, W, 1)).astype(np.float32)
    corners = np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]], dtype=np.float32)
    src = corners
    jitter = max(ch, cw) * 0.04
    offsets = [
        [pad + float(nrng.uniform(-jitter, jitter)), pad + float(nrng.uniform(-jitter, jitter))]
        for _ in range(4)
    ]
    dst = np.array(offsets, dtype=np.float32) + corners
    m = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(card_rgb.astype(np.float32), m, (W, H), borderValue=(0, 0, 0))
    mask = cv2.warpPerspective(np.ones((ch, cw), np.float32), m, (W, H))[..., None]
    img = bg * (1 - mask) + warped * mask
    angle = rng.uniform(-8, 8)
    rot = cv2.getRotationMatrix2D((W / 2, H / 2), angle, 1.0)
    img = cv2.warpAffine(img, rot, (W, H), borderMode=cv2.BORDER_REFLECT)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    light = 0.8 + 0.3 * (xx / W) * float(nrng.uniform(0.5, 1.0)) + 0.1 * (yy / H)
    img = img * light[..., None]
    img = cv2.GaussianBlur(img, (3, 3), 0.8)
    img += nrng.normal(0, 5, img.shape).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    return out, ["photo", f"skew:{angle:+.2f}", "perspective", "uneven_light"]
