import { cookies } from 'next/headers';
import { redirect } from 'next/navigation';
import type { ReactNode } from 'react';
import { Header } from '../../src/components/Header';
import { TOKEN_COOKIE } from '../../src/server/session';

/** Every page in this group needs a login; the API checks the token itself on each request. */
export default async function AppLayout({ children }: { children: ReactNode }) {
  const token = (await cookies()).get(TOKEN_COOKIE)?.value;
  if (!token) redirect('/login');
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <Header />
      {children}
    </>
  );
}
