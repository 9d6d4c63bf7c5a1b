'use client';

import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { describeError, gql, uploadDatasetFile } from '../api/client';
import { CREATE_DATASET } from '../api/queries';
import { formatNumber, ProgressBar } from './common';

/**
 * Registers a dataset (editors): an HDF5 brick or a folder already on the server under one of
 * its import roots, or an HDF5 file uploaded from here (with progress). Nothing is extracted
 * until an extraction is started on the dataset's page.
 */
export function NewDataset() {
  const router = useRouter();
  const [name, setName] = useState('');
  const [kind, setKind] = useState<'path' | 'upload'>('path');
  const [path, setPath] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [hdf5Dataset, setHdf5Dataset] = useState('imgBrick');
  const [shared, setShared] = useState(false);
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState<{ sent: number; total: number } | null>(null);
  const [error, setError] = useState('');
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError('');
    if (!/^[A-Za-z0-9._-]+$/.test(name)) {
      setError(`The name must be letters, digits, '.', '_' or '-', got "${name}"`);
      return;
    }
    if (kind === 'path' && !path.startsWith('/')) {
      setError(`The server path must be absolute (start with /), got "${path}"`);
      return;
    }
    if (kind === 'upload' && !file) {
      setError('Choose an HDF5 file to upload');
      return;
    }
    setBusy(true);
    try {
      let source: Record<string, string>;
      if (kind === 'upload' && file) {
        setSent({ sent: 0, total: file.size });
        const uploadId = await uploadDatasetFile(file, (done, total) => setSent({ sent: done, total }));
        source = { uploadId, hdf5Dataset };
      } else {
        source = { path, hdf5Dataset };
      }
      const result = await gql<{ createDataset: { id: string } }>(CREATE_DATASET, { input: { name, source, visibility: shared ? 'LAB' : 'PRIVATE' } });
      router.push(`/datasets/${result.createDataset.id}`);
    } catch (caught) {
      setError(describeError(caught));
    } finally {
      setBusy(false);
      setSent(null);
    }
  };
  return (
    <details className="panel" style={{ marginBottom: '1rem' }} data-testid="new-dataset">
      <summary style={{ cursor: 'pointer', fontWeight: 600 }}>New dataset</summary>
      <form onSubmit={submit} style={{ display: 'grid', gap: '0.7rem', marginTop: '0.75rem', maxWidth: '40rem' }} noValidate>
        <label>
          Name
          <input type="text" value={name} onChange={(event) => setName(event.target.value)} placeholder="nsd-shared1000" required aria-describedby="new-dataset-error" />
        </label>
        <fieldset>
          <legend>Images</legend>
          <div style={{ display: 'grid', gap: '0.5rem' }}>
            <label>
              <input type="radio" name="kind" checked={kind === 'path'} onChange={() => setKind('path')} /> On the server (an HDF5 brick or a folder under an import root)
            </label>
            {kind === 'path' ? <input type="text" value={path} onChange={(event) => setPath(event.target.value)} placeholder="/data/nsd/nsd_stimuli.hdf5" aria-label="Path on the server" spellCheck={false} /> : null}
            <label>
              <input type="radio" name="kind" checked={kind === 'upload'} onChange={() => setKind('upload')} /> Upload an HDF5 file
            </label>
            {kind === 'upload' ? <input type="file" accept=".h5,.hdf5,application/x-hdf5" onChange={(event) => setFile(event.target.files?.[0] ?? null)} aria-label="HDF5 file to upload" /> : null}
          </div>
        </fieldset>
        <div className="row">
          <label>
            HDF5 dataset
            <input type="text" value={hdf5Dataset} onChange={(event) => setHdf5Dataset(event.target.value)} style={{ width: '9rem' }} />
          </label>
          <label>
            <input type="checkbox" checked={shared} onChange={(event) => setShared(event.target.checked)} /> Share with the lab
          </label>
        </div>
        <div style={{ minHeight: '2.4rem' }}>{sent ? <ProgressBar value={sent.sent} max={sent.total} label="Upload" detail={`${formatNumber(sent.sent / 1048576, 1)} / ${formatNumber(sent.total / 1048576, 1)} MiB`} /> : null}</div>
        <div className="row">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create dataset'}
          </button>
        </div>
        <p id="new-dataset-error" className="error-text" role="alert" style={{ margin: 0 }}>
          {error}
        </p>
      </form>
    </details>
  );
}
