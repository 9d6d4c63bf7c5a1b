;; Barnes-Hut interaction-list sums (gradient-bh.ts) in float32, eight points at a time in two
;; f32x4 vectors. The caller passes coordinates relative to the group's centre, so that the
;; differences keep float32's relative precision at every distance. The same operations in the
;; same order as the JavaScript fallback (which rounds each result with Math.fround), so the
;; results are identical bit for bit (WebAssembly float arithmetic is IEEE, no fused multiply-add).
;;
;; Memory (byte offsets, f32): point x at 0, point y at 256 (64 points each), results fx at 512,
;; fy at 768, q at 1024; the list from 2048 on, 16 bytes an entry: centre x, centre y, size, -.
;; `points` is a multiple of 8 (the caller pads).
(module
  (memory (export "memory") 1)
  (func (export "sum") (param $count i32) (param $points i32)
    (local $p i32) (local $e i32) (local $end i32)
    (local $xa v128) (local $ya v128) (local $xb v128) (local $yb v128)
    (local $fxa v128) (local $fya v128) (local $qa v128)
    (local $fxb v128) (local $fyb v128) (local $qb v128)
    (local $cx v128) (local $cy v128) (local $s v128)
    (local $dxa v128) (local $dya v128) (local $dxb v128) (local $dyb v128)
    (local $ka v128) (local $kb v128) (local $ma v128) (local $mb v128) (local $one v128)
    (local.set $one (f32x4.splat (f32.const 1)))
    (local.set $end (i32.add (i32.const 2048) (i32.shl (local.get $count) (i32.const 4))))
    (local.set $p (i32.const 0))
    (block $done
      (loop $points
        (br_if $done (i32.ge_u (local.get $p) (local.get $points)))
        ;; byte offset of point p: p * 4
        (local.set $xa (v128.load offset=0 (i32.shl (local.get $p) (i32.const 2))))
        (local.set $xb (v128.load offset=16 (i32.shl (local.get $p) (i32.const 2))))
        (local.set $ya (v128.load offset=256 (i32.shl (local.get $p) (i32.const 2))))
        (local.set $yb (v128.load offset=272 (i32.shl (local.get $p) (i32.const 2))))
        (local.set $fxa (v128.const f32x4 0 0 0 0))
        (local.set $fya (v128.const f32x4 0 0 0 0))
        (local.set $qa (v128.const f32x4 0 0 0 0))
        (local.set $fxb (v128.const f32x4 0 0 0 0))
        (local.set $fyb (v128.const f32x4 0 0 0 0))
        (local.set $qb (v128.const f32x4 0 0 0 0))
        (local.set $e (i32.const 2048))
        (block $listDone
          (loop $list
            (br_if $listDone (i32.ge_u (local.get $e) (local.get $end)))
            (local.set $cx (v128.load32_splat offset=0 (local.get $e)))
            (local.set $cy (v128.load32_splat offset=4 (local.get $e)))
            (local.set $s (v128.load32_splat offset=8 (local.get $e)))
            (local.set $dxa (f32x4.sub (local.get $xa) (local.get $cx)))
            (local.set $dya (f32x4.sub (local.get $ya) (local.get $cy)))
            (local.set $dxb (f32x4.sub (local.get $xb) (local.get $cx)))
            (local.set $dyb (f32x4.sub (local.get $yb) (local.get $cy)))
            ;; k = 1 / ((1 + dx dx) + dy dy)
            (local.set $ka (f32x4.div (local.get $one)
              (f32x4.add (f32x4.add (local.get $one) (f32x4.mul (local.get $dxa) (local.get $dxa)))
                         (f32x4.mul (local.get $dya) (local.get $dya)))))
            (local.set $kb (f32x4.div (local.get $one)
              (f32x4.add (f32x4.add (local.get $one) (f32x4.mul (local.get $dxb) (local.get $dxb)))
                         (f32x4.mul (local.get $dyb) (local.get $dyb)))))
            ;; m = s k; q += m; m k dx, m k dy
            (local.set $ma (f32x4.mul (local.get $s) (local.get $ka)))
            (local.set $mb (f32x4.mul (local.get $s) (local.get $kb)))
            (local.set $qa (f32x4.add (local.get $qa) (local.get $ma)))
            (local.set $qb (f32x4.add (local.get $qb) (local.get $mb)))
            (local.set $ma (f32x4.mul (local.get $ma) (local.get $ka)))
            (local.set $mb (f32x4.mul (local.get $mb) (local.get $kb)))
            (local.set $fxa (f32x4.add (local.get $fxa) (f32x4.mul (local.get $ma) (local.get $dxa))))
            (local.set $fya (f32x4.add (local.get $fya) (f32x4.mul (local.get $ma) (local.get $dya))))
            (local.set $fxb (f32x4.add (local.get $fxb) (f32x4.mul (local.get $mb) (local.get $dxb))))
            (local.set $fyb (f32x4.add (local.get $fyb) (f32x4.mul (local.get $mb) (local.get $dyb))))
            (local.set $e (i32.add (local.get $e) (i32.const 16)))
            (br $list)))
        (v128.store offset=512 (i32.shl (local.get $p) (i32.const 2)) (local.get $fxa))
        (v128.store offset=528 (i32.shl (local.get $p) (i32.const 2)) (local.get $fxb))
        (v128.store offset=768 (i32.shl (local.get $p) (i32.const 2)) (local.get $fya))
        (v128.store offset=784 (i32.shl (local.get $p) (i32.const 2)) (local.get $fyb))
        (v128.store offset=1024 (i32.shl (local.get $p) (i32.const 2)) (local.get $qa))
        (v128.store offset=1040 (i32.shl (local.get $p) (i32.const 2)) (local.get $qb))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $points))))
)
