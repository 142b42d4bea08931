// Check 7 of ui/COMMANDS.md: Settings → "Local API for other apps" runs the
// OpenAI-compatible server inside the app. The switch is turned on; the
// URL and the key it shows are used, with Node's own HTTP client, as any
// other app on this device would: the key is required (401 without it),
// the models list has `chorus`; turned off, the address no longer answers.

/** Runs the check on a started session; `assert(condition, message)` throws. */
export async function localApi(session, assert) {
  await session.go('settings');
  assert(!(await session.property('settings-local-api', 'checked')), 'the local API is off by default');
  await session.click('settings-local-api');
  await session.waitFor('settings-local-api-url', undefined, 30_000).catch(async (error) => {
    const failure = await session.maybe('settings-local-api-error');
    throw failure ? new Error(`the local API did not start: ${await session.text('settings-local-api-error')}`) : error;
  });
  const url = await session.attribute('settings-local-api-url', 'data-url');
  assert(/^http:\/\/127\.0\.0\.1:\d+\/v1$/.test(url), `the API listens on loopback: ${url}`);
  assert(!(await session.attribute('settings-local-api-key', 'data-key')), 'the key is hidden until revealed');
  await session.click('settings-local-api-key-reveal');
  await session.waitFor('settings-local-api-key', async () => Boolean(await session.attribute('settings-local-api-key', 'data-key')), 10_000, 'the key');
  const key = await session.attribute('settings-local-api-key', 'data-key');
  assert(key.length >= 32, `a key of some length is shown (${key.length} characters)`);
  await session.audit('settings, the local API on');

  const refused = await fetch(`${url}/models`);
  assert(refused.status === 401, `without the key: 401, not ${refused.status}`);
  const error = await refused.json();
  assert(typeof error?.error?.message === 'string', `an OpenAI error envelope: ${JSON.stringify(error)}`);
  const models = await fetch(`${url}/models`, { headers: { Authorization: `Bearer ${key}` } });
  assert(models.status === 200, `with the key: 200, not ${models.status}`);
  const ids = (await models.json()).data.map((model) => model.id);
  assert(ids.includes('chorus'), `the models list has the conductor: ${ids}`);
  console.log(`[e2e] the app's local API at ${url}: 401 without the key, models ${ids.join(', ')}`);

  await session.click('settings-local-api');
  await session.until(async () => !(await session.maybe('settings-local-api-url')), 30_000, 'the URL to go');
  // The server stops taking connections once it sees the stop, a moment
  // after the switch: ask until it refuses (bounded).
  let gone = '';
  await session.until(
    async () => {
      gone = await fetch(`${url}/models`, { headers: { Authorization: `Bearer ${key}`, Connection: 'close' } }).then(
        (response) => `answered ${response.status}`,
        () => 'refused',
      );
      return gone === 'refused';
    },
    10_000,
    `the API to stop answering (it ${gone})`,
  );
  console.log('[e2e] turned off, the local API no longer answers');
}
