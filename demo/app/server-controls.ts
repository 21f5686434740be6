// The panel that makes the demo server fail on purpose (its /api/fault switch), so the outbox can be watched at work.

interface FaultState {
  readonly mode: string;
  readonly modes: readonly { readonly name: string; readonly text: string }[];
  readonly retryAfterSeconds: number;
}

const LABELS: Record<string, (s: FaultState) => string> = {
  ok: () => 'OK',
  500: () => '500',
  429: (s) => `429 + Retry-After ${s.retryAfterSeconds} s`,
  slow: () => 'slow',
  reject: () => '422 (gives up)',
  down: () => 'down',
};

/** Fills `fieldset` with one switch per mode and keeps it showing the server's mode (another tab may change it). */
export function serverControls(fieldset: HTMLFieldSetElement, note: HTMLElement, onChange: (mode: string) => void): void {
  let shown = '';

  const draw = (state: FaultState) => {
    const names = state.modes.map((m) => m.name).join();
    if (shown !== names) {
      shown = names;
      fieldset.querySelectorAll('label').forEach((label) => label.remove());
      for (const { name, text } of state.modes) {
        const input = Object.assign(document.createElement('input'), { type: 'radio', name: 'fault', value: name });
        const label = document.createElement('label');
        label.title = `The server ${text}.`;
        label.append(input, ` ${LABELS[name]?.(state) ?? name}`);
        fieldset.append(label);
      }
    }
    const checked = fieldset.querySelector<HTMLInputElement>(`input[value="${state.mode}"]`);
    if (checked) checked.checked = true;
    fieldset.dataset.mode = state.mode;
    note.textContent = `The server ${state.modes.find((m) => m.name === state.mode)?.text ?? state.mode}.`;
  };

  const ask = async (init?: RequestInit) => {
    try {
      const response = await fetch('/api/fault', { cache: 'no-store', ...init });
      const state = (await response.json()) as FaultState;
      draw(state);
      return state;
    } catch {
      note.textContent = 'The server’s switch cannot be reached from here (offline?).';
      return undefined;
    }
  };

  fieldset.addEventListener('change', async (event) => {
    const mode = (event.target as HTMLInputElement).value;
    const state = await ask({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode }) });
    if (state) onChange(state.mode);
  });
  void ask();
  setInterval(() => void ask(), 3_000);
}
