"""Procedural face images (Pillow + numpy), VGGFace-style crops centred on the face.

Identity appearance (:class:`FaceLook`) is a pure function of the identity's observable
shared traits (``TraitTable.face``) and private face traits; each image then adds its own
nuisance (pose, lighting, background, expression, glasses/occlusion, clothing, sensor
noise, JPEG quality), drawn from the image's own random stream.

Trait -> appearance (shared dims in latent units, see ``traits.SHARED_DIMS``):

===========  ====================================================================
masc         jaw width, brow thickness, hair length, beard (with private propensity),
             lip colour, receding hairline (with age)
age          grey hair, forehead/cheek lines, longer lower face, smaller eyes
size         head width and height, nose length
anc1         skin lightness, hair and iris darkness
anc2         skin undertone (red <-> yellow), hair redness, nose width
===========  ====================================================================

Everything is drawn on a canvas twice the output size, then posed with one affine
warp and box-downsampled (cheap anti-aliasing). Output is deterministic for a given
Pillow/numpy version: all randomness comes from the passed ``Generator``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from vfbench.data.synthetic.traits import FACE_PRIVATE

_FP = {n: i for i, n in enumerate(FACE_PRIVATE)}
Color = tuple[int, int, int]


def _rgb(c: np.ndarray) -> Color:
    c = np.clip(np.round(c), 0, 255).astype(int)
    return (int(c[0]), int(c[1]), int(c[2]))


@dataclass(frozen=True)
class FaceLook:
    """The identity-level drawing parameters (lengths in units of a 256-px canvas)."""

    head_w: float
    head_h: float
    jaw: float  # jaw width / head width
    skin: Color
    hair: Color
    hair_len: float  # 0 = shaved, 1 = short, 2 = shoulder, 3 = long
    hair_style: int
    recede: float  # 0..1 hairline recession
    brow: float  # px thickness
    brow_color: Color
    eye_dx: float  # half distance between eye centres
    eye_r: float
    iris: Color
    nose_len: float
    nose_w: float
    mouth_w: float
    lips: Color
    beard: float  # 0..1 opacity
    wrinkles: int
    asym: float
    lower_face: float  # extra lower-face length from age


def face_look(obs: np.ndarray, private: np.ndarray) -> FaceLook:
    """Identity look from observable shared traits ``(5,)`` and private traits."""
    masc, age, size, a1, a2 = (float(x) for x in np.clip(obs, -3.0, 3.0))
    fp = np.clip(private, -3.0, 3.0)
    head_w = 116.0 * (1 + 0.07 * size + 0.04 * masc + 0.025 * fp[_FP["face_length"]] * -1)
    head_h = 150.0 * (1 + 0.05 * size + 0.03 * fp[_FP["face_length"]] + 0.015 * age)
    # skin: melanin axis from anc1, undertone from anc2
    t = float(np.clip(0.5 + 0.27 * a1 + 0.04 * fp[_FP["skin"]], 0.0, 1.0))
    light, dark = np.array([238.0, 204.0, 180.0]), np.array([92.0, 60.0, 42.0])
    skin = light * (1 - t) + dark * t + np.array([7.0, 1.0, -9.0]) * a2
    # hair: darker with anc1, redder with anc2, greyer with age
    h = float(np.clip(0.55 + 0.25 * a1 + 0.12 * fp[_FP["hair_tone"]], 0.0, 1.0))
    hair = np.array([200.0, 160.0, 105.0]) * (1 - h) + np.array([28.0, 22.0, 20.0]) * h
    hair = hair + np.array([30.0, 5.0, -15.0]) * max(0.0, -a2) * (1 - h)
    brow_color = _rgb(hair * 0.8)
    grey = float(np.clip(0.45 * (age - 0.3), 0.0, 0.85))
    hair = hair * (1 - grey) + np.array([185.0, 185.0, 185.0]) * grey
    style = int(fp[_FP["hair_style"]])
    base_len = (1.0, 1.5, 2.5, 3.0, 0.2, 1.8)[style % 6]
    hair_len = float(np.clip(base_len - 1.1 * masc, 0.0, 3.0))
    iris_t = float(np.clip(0.5 + 0.3 * a1 + 0.25 * fp[_FP["iris"]], 0.0, 1.0))
    iris = np.array([90.0, 140.0, 170.0]) * (1 - iris_t) + np.array([45.0, 28.0, 18.0]) * iris_t
    lips = skin * np.array([0.82, 0.62, 0.62]) + np.array([25.0, 0.0, 5.0]) * max(0.0, -masc)
    return FaceLook(
        head_w=head_w,
        head_h=head_h,
        jaw=float(np.clip(0.66 + 0.07 * masc + 0.03 * size + 0.03 * fp[_FP["jaw"]], 0.45, 0.9)),
        skin=_rgb(skin),
        hair=_rgb(hair),
        hair_len=hair_len,
        hair_style=style,
        recede=float(np.clip(0.5 * max(0.0, masc) * (age + 0.2), 0.0, 0.7)),
        brow=float(np.clip(4.5 + 2.0 * masc + 1.0 * fp[_FP["brow"]], 2.0, 10.0)),
        brow_color=brow_color,
        eye_dx=float(0.19 * head_w * (1 + 0.09 * fp[_FP["eye_spacing"]])),
        eye_r=float(np.clip(7.0 * (1 + 0.1 * fp[_FP["eye_size"]] - 0.03 * age), 4.0, 10.0)),
        iris=_rgb(iris),
        nose_len=float(0.22 * head_h * (1 + 0.1 * fp[_FP["nose_length"]] + 0.04 * size)),
        nose_w=float(0.13 * head_w * (1 + 0.1 * fp[_FP["nose_width"]] + 0.06 * a2)),
        mouth_w=float(0.36 * head_w * (1 + 0.09 * fp[_FP["mouth_width"]])),
        lips=_rgb(lips),
        beard=float(np.clip((masc - 0.2) * 1.2, 0.0, 1.0) * (fp[_FP["beard"]] > 0.55)),
        wrinkles=int(np.clip(np.floor(1.8 * (age + 0.4)), 0, 4)),
        asym=float(2.5 * fp[_FP["asymmetry"]]),
        lower_face=float(np.clip(4.0 * age, -4.0, 10.0)),
    )


def render_face(
    look: FaceLook, rng: np.random.Generator, size: int = 128, nuisance: float = 1.0
) -> Image.Image:
    """One RGB image ``size`` x ``size`` of an identity with fresh per-image nuisance."""
    nu = float(nuisance)
    S = 2 * size
    k = S / 256.0  # look lengths are in 256-canvas units
    # ---- background: muted colour + low-frequency texture
    grey = rng.uniform(60, 200)
    bg = grey + 0.45 * (rng.uniform(40, 215, 3) - grey)
    tex = rng.normal(0.0, 18.0 * nu, (5, 5, 3)) + bg
    canvas = Image.fromarray(np.clip(tex, 0, 255).astype(np.uint8)).resize(
        (S, S), Image.Resampling.BICUBIC
    )
    d = ImageDraw.Draw(canvas)
    cx = S / 2 + rng.normal(0, 3) * nu * k
    yaw = float(np.clip(rng.normal(0, 0.25 * nu), -0.6, 0.6))  # feature shift, fraction
    hw, hh = look.head_w * k * (1 - 0.06 * abs(yaw)), look.head_h * k
    cy = S / 2 + 2 * k
    top, bottom = cy - hh / 2, cy + hh / 2 + look.lower_face * k
    skin, hair = look.skin, look.hair
    # ---- shoulders and neck
    shirt = _rgb(rng.uniform(20, 235, 3))
    d.ellipse([cx - 1.15 * hw, bottom + 10 * k, cx + 1.15 * hw, bottom + 150 * k], fill=shirt)
    d.rectangle([cx - 0.27 * hw, cy, cx + 0.27 * hw, bottom + 30 * k], fill=_shade(skin, 0.85))
    # ---- long hair behind the head
    if look.hair_len >= 2.0:
        drop = (look.hair_len - 1.5) * 45 * k
        d.rounded_rectangle(
            [cx - 0.62 * hw, top + 0.1 * hh, cx + 0.62 * hw, cy + drop],
            radius=int(25 * k),
            fill=hair,
        )
    # ---- head: upper ellipse + jaw polygon
    d.ellipse([cx - hw / 2, top, cx + hw / 2, cy + 0.25 * hh], fill=skin)
    jw = look.jaw * hw / 2
    d.polygon(
        [
            (cx - hw / 2, cy - 0.05 * hh),
            (cx + hw / 2, cy - 0.05 * hh),
            (cx + jw, bottom - 0.08 * hh),
            (cx + 0.25 * hw, bottom),
            (cx - 0.25 * hw, bottom),
            (cx - jw, bottom - 0.08 * hh),
        ],
        fill=skin,
    )
    # ears
    for s in (-1, 1):
        ex = cx + s * hw / 2
        d.ellipse([ex - 7 * k, cy - 22 * k, ex + 7 * k, cy + 6 * k], fill=_shade(skin, 0.93))
    # ---- beard / stubble
    if look.beard > 0:
        bc = _mix(skin, hair, 0.35 + 0.5 * look.beard)
        d.polygon(
            [
                (cx - hw / 2 + 3 * k, cy + 0.12 * hh),
                (cx + hw / 2 - 3 * k, cy + 0.12 * hh),
                (cx + jw, bottom - 0.08 * hh),
                (cx + 0.25 * hw, bottom + 4 * k),
                (cx - 0.25 * hw, bottom + 4 * k),
                (cx - jw, bottom - 0.08 * hh),
            ],
            fill=bc,
        )
    # ---- hair on top (cap), shaved styles draw nothing
    fx = cx + yaw * 0.12 * hw  # features follow the yaw
    if look.hair_len > 0.3:
        cap_h = hh * (0.30 - 0.12 * look.recede)
        if look.hair_style == 5:  # curly: a crown of circles
            for a in np.linspace(np.pi * 1.05, np.pi * 1.95, 9):
                r = 0.16 * hw
                px, py = cx + 0.45 * hw * np.cos(a), top + 0.32 * hh + 0.3 * hh * np.sin(a)
                d.ellipse([px - r, py - r, px + r, py + r], fill=hair)
        else:
            d.chord(
                [cx - 0.53 * hw, top - 0.06 * hh, cx + 0.53 * hw, top + 2 * cap_h],
                180,
                360,
                fill=hair,
            )
            if look.hair_style in (1, 3):  # side parting / fringe
                d.polygon(
                    [
                        (cx - 0.5 * hw, top + cap_h),
                        (fx + 0.2 * hw, top + 0.2 * hh),
                        (cx - 0.1 * hw, top + cap_h * 1.3),
                    ],
                    fill=hair,
                )
        if look.hair_len >= 1.3:  # side hair
            y1 = cy + 0.1 * hh * look.hair_len
            d.rectangle([cx - 0.53 * hw, top + cap_h, cx - 0.42 * hw, y1], fill=hair)
            d.rectangle([cx + 0.42 * hw, top + cap_h, cx + 0.53 * hw, y1], fill=hair)
    # ---- wrinkles
    line = _shade(skin, 0.78)
    for w in range(look.wrinkles):
        y = top + (0.2 + 0.045 * w) * hh + cap_h_offset(look) * hh
        d.arc(
            [fx - 0.22 * hw, y, fx + 0.22 * hw, y + 10 * k],
            200,
            340,
            fill=line,
            width=max(1, int(k)),
        )
    # ---- eyes and brows
    ey = cy - 0.08 * hh
    er = look.eye_r * k
    blink = rng.random() < 0.04 * nu
    for s in (-1, 1):
        ex = fx + s * look.eye_dx * k
        eyy = ey + (s * look.asym * k)
        if blink:
            d.line([ex - 1.6 * er, eyy, ex + 1.6 * er, eyy], fill=line, width=max(1, int(2 * k)))
        else:
            d.ellipse([ex - 1.6 * er, eyy - er, ex + 1.6 * er, eyy + er], fill=(245, 245, 240))
            ir = 0.85 * er
            d.ellipse([ex - ir, eyy - ir, ex + ir, eyy + ir], fill=look.iris)
            pr = 0.4 * er
            d.ellipse([ex - pr, eyy - pr, ex + pr, eyy + pr], fill=(10, 10, 10))
        by = eyy - 2.1 * er - rng.normal(0, 1.5) * nu * k
        d.line(
            [ex - 1.9 * er, by + 2 * k, ex, by - 2 * k, ex + 1.9 * er, by + 1 * k],
            fill=look.brow_color,
            width=max(1, int(look.brow * k)),
            joint="curve",
        )
    # ---- nose
    nt, nb = ey + 0.5 * er, ey + look.nose_len * k
    nw = look.nose_w * k
    d.line([fx, nt, fx + 0.35 * nw, nb], fill=_shade(skin, 0.8), width=max(1, int(2 * k)))
    d.ellipse([fx - nw / 2, nb - 0.25 * nw, fx + nw / 2, nb + 0.2 * nw], fill=_shade(skin, 0.72))
    # ---- mouth with expression
    my = nb + 0.32 * (bottom - nb)
    mw = look.mouth_w * k * (1 + 0.12 * rng.normal(0, 0.5 * nu))
    smile = float(np.clip(rng.normal(0.3, 0.5 * nu), -0.5, 1.2))
    openness = max(0.0, rng.normal(0.0, 5.0 * nu)) * k
    y0 = my - smile * 6 * k
    d.polygon(
        [
            (fx - mw / 2, y0),
            (fx, my - 3 * k),
            (fx + mw / 2, y0 + look.asym * k),
            (fx, my + 5 * k + openness),
        ],
        fill=look.lips,
    )
    if openness > 2 * k:
        d.ellipse([fx - mw / 4, my - 1 * k, fx + mw / 4, my + openness], fill=(60, 20, 25))
    # ---- glasses / occlusion (occasional)
    if rng.random() < 0.12 * nu:
        gc = _rgb(rng.uniform(0, 120, 3))
        for s in (-1, 1):
            ex = fx + s * look.eye_dx * k
            d.rounded_rectangle(
                [ex - 2.4 * er, ey - 1.7 * er, ex + 2.4 * er, ey + 1.7 * er],
                radius=int(4 * k),
                outline=gc,
                width=max(1, int(2.5 * k)),
            )
        d.line(
            [fx - look.eye_dx * k + 2.4 * er, ey, fx + look.eye_dx * k - 2.4 * er, ey],
            fill=gc,
            width=max(1, int(2 * k)),
        )
    if rng.random() < 0.06 * nu:
        oc = _rgb(rng.uniform(30, 230, 3))
        ox = cx + rng.choice([-1, 1]) * hw * rng.uniform(0.2, 0.6)
        oy = cy + hh * rng.uniform(-0.1, 0.5)
        d.ellipse([ox - 0.3 * hw, oy - 0.25 * hh, ox + 0.3 * hw, oy + 0.25 * hh], fill=oc)
    # ---- pose: rotation / scale / shift in one affine warp, then 2x box downsample
    ang = np.deg2rad(rng.normal(0.0, 6.0 * nu))
    sc = 1.0 + rng.normal(0.0, 0.05 * nu)
    tx, ty = rng.normal(0.0, 5.0 * nu, 2) * k
    ca, sa = np.cos(ang) / sc, np.sin(ang) / sc
    c0 = S / 2
    # output (x, y) -> input: R^-1/sc * ((x, y) - c - t) + c
    coeffs = (
        ca,
        sa,
        c0 - ca * (c0 + tx) - sa * (c0 + ty),
        -sa,
        ca,
        c0 + sa * (c0 + tx) - ca * (c0 + ty),
    )
    canvas = canvas.transform(
        (S, S),
        Image.Transform.AFFINE,
        coeffs,
        resample=Image.Resampling.BILINEAR,
        fillcolor=_rgb(bg),
    ).reduce(2)
    # ---- lighting gradient, exposure and sensor noise
    arr = np.asarray(canvas, dtype=np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    grad = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    ramp = np.cos(theta) * grad[None, :] + np.sin(theta) * grad[:, None]
    gain = rng.normal(1.0, 0.08 * nu) * (1.0 + rng.uniform(0.0, 0.3 * nu) * ramp)
    tint = 1.0 + rng.normal(0.0, 0.03 * nu, 3).astype(np.float32)
    noise = rng.normal(0.0, 3.0 * nu, arr.shape).astype(np.float32)
    arr = arr * gain[:, :, None].astype(np.float32) * tint + noise
    return Image.fromarray(np.clip(np.round(arr), 0, 255).astype(np.uint8), "RGB")


def cap_h_offset(look: FaceLook) -> float:
    """Forehead lines start lower when the hairline recedes (fraction of head height)."""
    return -0.05 * look.recede


def jpeg_quality(rng: np.random.Generator, nuisance: float = 1.0) -> int:
    """Per-image JPEG quality: 95 without nuisance, down to ~60 at nuisance 1."""
    return int(np.clip(round(95 - rng.uniform(0.0, 35.0) * nuisance), 30, 95))


def encode_jpeg(img: Image.Image, quality: int) -> bytes:
    """Baseline JPEG with fixed settings (no optimise pass, 4:2:0), so bytes are reproducible."""
    buf = io.BytesIO()
    img.save(
        buf, format="JPEG", quality=int(quality), optimize=False, progressive=False, subsampling=2
    )
    return buf.getvalue()


def _shade(c: Color, f: float) -> Color:
    return _rgb(np.array(c, dtype=float) * f)


def _mix(a: Color, b: Color, t: float) -> Color:
    return _rgb(np.array(a, dtype=float) * (1 - t) + np.array(b, dtype=float) * t)
