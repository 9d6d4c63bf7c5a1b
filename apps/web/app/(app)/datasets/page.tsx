import type { Metadata } from 'next';
import { DatasetList } from '../../../src/components/DatasetList';
import { NewDataset } from '../../../src/components/NewDataset';

export const metadata: Metadata = { title: 'Datasets' };

export default function DatasetsPage() {
  return (
    <main id="main">
      <h1>Datasets</h1>
      <NewDataset />
      <DatasetList />
    </main>
  );
}
