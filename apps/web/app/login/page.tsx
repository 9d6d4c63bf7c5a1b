import type { Metadata } from 'next';
import { Suspense } from 'react';
import { LoginForm } from '../../src/components/LoginForm';

export const metadata: Metadata = { title: 'Log in' };

export default function LoginPage() {
  return (
    <main id="main" className="login">
      <Suspense>
        <LoginForm />
      </Suspense>
    </main>
  );
}
