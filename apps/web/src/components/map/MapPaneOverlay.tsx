'use client';

import { useEffect, useRef, useState, type KeyboardEvent, type PointerEvent, type ReactNode } from 'react';
import type { MosaicRenderer } from '../../viewer/mosaic-renderer';
import type { Viewport } from '../../viewer/viewport';

export interface PaneHandlers {
  /** Hovered point (-1: none) and where the pointer is in the stage. */
  onHover: (paneId: string, point: number, at: { x: number; y: number } | null) => void;
  onOpen: (paneId: string, point: number) => void;
  /** Points inside a lasso; `additive`: add to the selection instead of replacing it. */
  onLasso: (paneId: string, points: Int32Array, additive: boolean) => void;
  onViewport: (paneId: string, viewport: Viewport) => void;
  onClear: () => void;
  onToggleLasso: () => void;
}

const PAN_STEP = 80;
const ZOOM_STEP = 1.5;
const CLICK_SLOP = 4;

/**
 * The interactive surface of one pane, over the shared canvas: drag to pan, wheel to zoom, hover
 * to preview, click to open, lasso (lasso mode or Shift-drag) to select; and the same from the
 * keyboard (arrows, + -, 0, Enter on the image at the centre mark, Escape, L).
 */
export function MapPaneOverlay({
  paneId,
  label,
  renderer,
  lassoMode,
  handlers,
  onElement,
  children,
}: {
  paneId: string;
  label: string;
  renderer: MosaicRenderer | null;
  lassoMode: boolean;
  handlers: PaneHandlers;
  onElement: (paneId: string, element: HTMLDivElement | null) => void;
  children?: ReactNode;
}) {
  const element = useRef<HTMLDivElement>(null);
  const gesture = useRef<{ kind: 'pan' | 'lasso'; startX: number; startY: number; lastX: number; lastY: number; moved: boolean; additive: boolean; pointerId: number } | null>(null);
  const [lasso, setLasso] = useState<number[] | null>(null);
  const lassoPoints = useRef<number[]>([]);
  const hoverFrame = useRef<number | null>(null);
  const handlersRef = useRef(handlers);
  handlersRef.current = handlers;

  useEffect(() => {
    onElement(paneId, element.current);
    return () => onElement(paneId, null);
  }, [paneId, onElement]);

  // Wheel zoom needs a non-passive listener to keep the page from scrolling.
  useEffect(() => {
    const target = element.current;
    if (!target || !renderer) return undefined;
    const onWheel = (event: WheelEvent) => {
      const viewport = renderer.getViewport(paneId);
      if (!viewport) return;
      event.preventDefault();
      const box = target.getBoundingClientRect();
      const delta = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
      const factor = Math.exp(-delta * 0.0015);
      handlersRef.current.onViewport(paneId, viewport.zoomAt(event.clientX - box.left, event.clientY - box.top, factor, renderer.limits(paneId)));
    };
    target.addEventListener('wheel', onWheel, { passive: false });
    return () => target.removeEventListener('wheel', onWheel);
  }, [renderer, paneId]);

  const local = (event: { clientX: number; clientY: number }) => {
    const box = (element.current as HTMLDivElement).getBoundingClientRect();
    return { x: event.clientX - box.left, y: event.clientY - box.top, stageX: event.clientX - box.left + (element.current as HTMLDivElement).offsetLeft, stageY: event.clientY - box.top + (element.current as HTMLDivElement).offsetTop };
  };

  const onPointerDown = (event: PointerEvent<HTMLDivElement>) => {
    if (!renderer || event.button !== 0) return;
    // Keys work after a click; the focus ring is for keyboard users (focusVisible: Chromium, Firefox).
    (event.currentTarget as HTMLDivElement).focus({ preventScroll: true, focusVisible: false } as FocusOptions);
    const { x, y } = local(event);
    const kind = lassoMode || event.shiftKey ? 'lasso' : 'pan';
    gesture.current = { kind, startX: x, startY: y, lastX: x, lastY: y, moved: false, additive: event.altKey || event.ctrlKey || event.metaKey, pointerId: event.pointerId };
    event.currentTarget.setPointerCapture(event.pointerId);
    if (kind === 'lasso') {
      lassoPoints.current = [x, y];
      setLasso([x, y]);
    }
  };

  const onPointerMove = (event: PointerEvent<HTMLDivElement>) => {
    if (!renderer) return;
    const position = local(event);
    const active = gesture.current;
    if (active && active.pointerId === event.pointerId) {
      const dx = position.x - active.lastX;
      const dy = position.y - active.lastY;
      if (Math.hypot(position.x - active.startX, position.y - active.startY) > CLICK_SLOP) active.moved = true;
      active.lastX = position.x;
      active.lastY = position.y;
      if (active.kind === 'pan') {
        const viewport = renderer.getViewport(paneId);
        if (viewport && (dx !== 0 || dy !== 0)) handlersRef.current.onViewport(paneId, viewport.panBy(dx, dy));
        handlersRef.current.onHover(paneId, -1, null);
      } else {
        lassoPoints.current.push(position.x, position.y);
        setLasso([...lassoPoints.current]);
      }
      return;
    }
    // Hover: one pick per frame however fast the pointer moves.
    if (hoverFrame.current !== null) cancelAnimationFrame(hoverFrame.current);
    hoverFrame.current = requestAnimationFrame(() => {
      hoverFrame.current = null;
      const point = renderer.pick(paneId, position.x, position.y);
      handlersRef.current.onHover(paneId, point, point >= 0 ? { x: position.stageX, y: position.stageY } : null);
    });
  };

  const onPointerUp = (event: PointerEvent<HTMLDivElement>) => {
    const active = gesture.current;
    if (!renderer || !active || active.pointerId !== event.pointerId) return;
    gesture.current = null;
    if (active.kind === 'lasso') {
      const polygon = lassoPoints.current;
      setLasso(null);
      lassoPoints.current = [];
      if (polygon.length >= 6 && active.moved) handlersRef.current.onLasso(paneId, renderer.lasso(paneId, polygon), active.additive);
      return;
    }
    if (!active.moved) {
      const { x, y } = local(event);
      const point = renderer.pick(paneId, x, y);
      if (point >= 0) handlersRef.current.onOpen(paneId, point);
    }
  };

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    if (!renderer) return;
    const viewport = renderer.getViewport(paneId);
    if (!viewport) return;
    const step = event.shiftKey ? PAN_STEP * 3 : PAN_STEP;
    const cx = viewport.width / 2;
    const cy = viewport.height / 2;
    let next: Viewport | null = null;
    switch (event.key) {
      case 'ArrowLeft':
        next = viewport.panBy(step, 0);
        break;
      case 'ArrowRight':
        next = viewport.panBy(-step, 0);
        break;
      case 'ArrowUp':
        next = viewport.panBy(0, step);
        break;
      case 'ArrowDown':
        next = viewport.panBy(0, -step);
        break;
      case '+':
      case '=':
        next = viewport.zoomAt(cx, cy, ZOOM_STEP, renderer.limits(paneId));
        break;
      case '-':
      case '_':
        next = viewport.zoomAt(cx, cy, 1 / ZOOM_STEP, renderer.limits(paneId));
        break;
      case '0':
      case 'Home':
        renderer.fit(paneId);
        {
          const fitted = renderer.getViewport(paneId);
          if (fitted) handlersRef.current.onViewport(paneId, fitted);
        }
        event.preventDefault();
        return;
      case 'Enter':
      case ' ': {
        const point = renderer.pick(paneId, cx, cy);
        if (point >= 0) handlersRef.current.onOpen(paneId, point);
        event.preventDefault();
        return;
      }
      case 'Escape':
        handlersRef.current.onClear();
        return;
      case 'l':
      case 'L':
        handlersRef.current.onToggleLasso();
        event.preventDefault();
        return;
      default:
        return;
    }
    event.preventDefault();
    if (next) handlersRef.current.onViewport(paneId, next);
    // The image under the centre mark is highlighted as the view moves.
    requestAnimationFrame(() => {
      const point = renderer.pick(paneId, cx, cy);
      renderer.setHighlight(paneId, point);
    });
  };

  let path: string | null = null;
  if (lasso && lasso.length >= 4) {
    const pairs: string[] = [];
    for (let i = 0; i + 1 < lasso.length; i += 2) pairs.push(`${(lasso[i] as number).toFixed(1)},${(lasso[i + 1] as number).toFixed(1)}`);
    path = `M${pairs.join(' L')}Z`;
  }

  return (
    <div ref={element} className="map-pane" data-pane={paneId}>
    <div
      className="pane-surface"
      tabIndex={0}
      role="application"
      aria-roledescription="image map"
      aria-label={`${label}. Drag or arrow keys to pan, wheel or plus and minus to zoom, 0 to fit, Enter opens the image at the centre mark, Shift-drag or L then drag to lasso-select, Escape clears the selection.`}
      data-testid={`pane-${paneId}`}
      style={{ cursor: lassoMode ? 'crosshair' : gesture.current?.kind === 'pan' ? 'grabbing' : 'grab' }}
      onPointerDown={onPointerDown}
      onPointerMove={onPointerMove}
      onPointerUp={onPointerUp}
      onPointerCancel={() => {
        gesture.current = null;
        setLasso(null);
      }}
      onPointerLeave={() => {
        if (!gesture.current) handlersRef.current.onHover(paneId, -1, null);
      }}
      onKeyDown={onKeyDown}
      onBlur={() => renderer?.setHighlight(paneId, -1)}
    >
      <span className="pane-center" aria-hidden="true" />
      {path ? (
        <svg className="lasso" aria-hidden="true">
          <path d={path} />
        </svg>
      ) : null}
    </div>
    {children}
    </div>
  );
}
