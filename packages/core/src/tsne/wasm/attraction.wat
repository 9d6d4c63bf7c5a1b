;; Attractive forces over the sparse P (gradient-attractive.ts), two non-zeros at a time in
;; f64x2 lanes: lane 0 sums the even entries of a row (and a last odd one), lane 1 the odd
;; ones, then lane 0 + lane 1, which is the JavaScript loop's order, so the results are the same
;; bit for bit (WebAssembly float arithmetic is IEEE, no fused multiply-add).
;;
;; The caller lays out the memory: y (n x 2 f64) at $y, rowPtr (n + 1 i32) at $rowPtr, colIdx
;; (i32) at $col, values (f64) at $val, and gets rows [from, to) as (fx, fy) f64 pairs at $out.
(module
  (memory (export "memory") 1)
  (func (export "forces")
    (param $y i32) (param $rowPtr i32) (param $col i32) (param $val i32) (param $out i32)
    (param $from i32) (param $to i32) (param $ex f64)
    (local $i i32) (local $e i32) (local $end i32) (local $j i32) (local $l i32) (local $o i32)
    (local $xi f64) (local $yi f64) (local $dx f64) (local $dy f64) (local $pq f64)
    (local $fx f64) (local $fy f64)
    (local $X v128) (local $Y v128) (local $vx v128) (local $vy v128) (local $p v128)
    (local $ax v128) (local $ay v128) (local $one v128) (local $exv v128)
    (local.set $one (f64x2.splat (f64.const 1)))
    (local.set $exv (f64x2.splat (local.get $ex)))
    (local.set $i (local.get $from))
    (local.set $o (local.get $out))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_s (local.get $i) (local.get $to)))
        (local.set $xi (f64.load (i32.add (local.get $y) (i32.shl (local.get $i) (i32.const 4)))))
        (local.set $yi (f64.load offset=8 (i32.add (local.get $y) (i32.shl (local.get $i) (i32.const 4)))))
        (local.set $X (f64x2.splat (local.get $xi)))
        (local.set $Y (f64x2.splat (local.get $yi)))
        (local.set $ax (v128.const f64x2 0 0))
        (local.set $ay (v128.const f64x2 0 0))
        (local.set $e (i32.load (i32.add (local.get $rowPtr) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $end (i32.load offset=4 (i32.add (local.get $rowPtr) (i32.shl (local.get $i) (i32.const 2)))))
        (block $pairsDone
          (loop $pairs
            (br_if $pairsDone (i32.ge_s (i32.add (local.get $e) (i32.const 1)) (local.get $end)))
            (local.set $j (i32.add (local.get $y) (i32.shl
              (i32.load (i32.add (local.get $col) (i32.shl (local.get $e) (i32.const 2)))) (i32.const 4))))
            (local.set $l (i32.add (local.get $y) (i32.shl
              (i32.load offset=4 (i32.add (local.get $col) (i32.shl (local.get $e) (i32.const 2)))) (i32.const 4))))
            (local.set $vx (f64x2.replace_lane 1 (v128.load64_splat (local.get $j)) (f64.load (local.get $l))))
            (local.set $vy (f64x2.replace_lane 1 (v128.load64_splat offset=8 (local.get $j)) (f64.load offset=8 (local.get $l))))
            (local.set $vx (f64x2.sub (local.get $X) (local.get $vx)))
            (local.set $vy (f64x2.sub (local.get $Y) (local.get $vy)))
            ;; pq = (p ex) / ((1 + dx dx) + dy dy)
            (local.set $p (f64x2.div
              (f64x2.mul (v128.load (i32.add (local.get $val) (i32.shl (local.get $e) (i32.const 3)))) (local.get $exv))
              (f64x2.add (f64x2.add (local.get $one) (f64x2.mul (local.get $vx) (local.get $vx)))
                         (f64x2.mul (local.get $vy) (local.get $vy)))))
            (local.set $ax (f64x2.add (local.get $ax) (f64x2.mul (local.get $p) (local.get $vx))))
            (local.set $ay (f64x2.add (local.get $ay) (f64x2.mul (local.get $p) (local.get $vy))))
            (local.set $e (i32.add (local.get $e) (i32.const 2)))
            (br $pairs)))
        (local.set $fx (f64x2.extract_lane 0 (local.get $ax)))
        (local.set $fy (f64x2.extract_lane 0 (local.get $ay)))
        (if (i32.lt_s (local.get $e) (local.get $end))
          (then
            (local.set $j (i32.add (local.get $y) (i32.shl
              (i32.load (i32.add (local.get $col) (i32.shl (local.get $e) (i32.const 2)))) (i32.const 4))))
            (local.set $dx (f64.sub (local.get $xi) (f64.load (local.get $j))))
            (local.set $dy (f64.sub (local.get $yi) (f64.load offset=8 (local.get $j))))
            (local.set $pq (f64.div
              (f64.mul (f64.load (i32.add (local.get $val) (i32.shl (local.get $e) (i32.const 3)))) (local.get $ex))
              (f64.add (f64.add (f64.const 1) (f64.mul (local.get $dx) (local.get $dx)))
                       (f64.mul (local.get $dy) (local.get $dy)))))
            (local.set $fx (f64.add (local.get $fx) (f64.mul (local.get $pq) (local.get $dx))))
            (local.set $fy (f64.add (local.get $fy) (f64.mul (local.get $pq) (local.get $dy))))))
        (f64.store (local.get $o) (f64.add (local.get $fx) (f64x2.extract_lane 1 (local.get $ax))))
        (f64.store offset=8 (local.get $o) (f64.add (local.get $fy) (f64x2.extract_lane 1 (local.get $ay))))
        (local.set $o (i32.add (local.get $o) (i32.const 16)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows)))
  )
)
