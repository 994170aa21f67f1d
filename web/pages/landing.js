// landing.js - the front page: what Tollgate makes (motion transfer, character swap, video
// from text, images), sample outputs, how it works, the starting price in the visitor's
// currency, and the way in (sign up, or generate when signed in).
import { html } from '../lib.js';
import { api } from '../api.js';
import { money, number, t } from '../i18n.js';
import { useShared } from '../state.js';
import { useLoad } from '../components/ui.js';

const img = (name) => new URL('../img/showcase/' + name, import.meta.url).href;
const KINDS = ['animate_move', 'animate_mix', 'text_to_video', 'image'];
const still = () => !!(window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches);

function FromPrice() {
  const { user } = useShared();
  const load = useLoad(() => api('/catalog', { auth: !!user }), [user && user.id]);
  const c = load.data;
  if (!c || !c.packs.length) return null;
  const cheapest = c.packs.reduce((a, b) => (b.price.amount < a.price.amount ? b : a));
  return html`<p class="muted">${t('landing.from_price', {
    price: money(cheapest.price.amount, cheapest.price.currency), n: number(cheapest.credits) })}</p>`;
}

export default function Landing() {
  const { user } = useShared();
  const start = user ? '/generate' : '/sign-up?next=%2Fgenerate';
  return html`<div class="landing">
    <section class="hero" aria-labelledby="hero-title">
      <div class="hero-text">
        <h1 id="hero-title">${t('landing.hero.title')}</h1>
        <p class="lead">${t('landing.hero.lead')}</p>
        <p class="row">
          <a class="btn primary" href=${start}>${user ? t('landing.hero.generate') : t('landing.hero.sign_up')}</a>
          <a class="btn" href="/pricing">${t('landing.hero.pricing')}</a>
        </p>
        ${user ? null : html`<p class="small muted">${t('landing.hero.free')}</p>`}
      </div>
      <figure class="hero-media">
        <video class="media" src=${img('sample.mp4')} poster=${img('sample.png')} muted loop playsinline autoplay=${!still()} controls
          width="160" height="120" aria-label=${t('landing.showcase.video_alt')}></video>
        <figcaption class="small muted">${t('landing.showcase.caption_video')}</figcaption>
      </figure>
    </section>

    <section aria-labelledby="what-title">
      <h2 id="what-title">${t('landing.what.title')}</h2>
      <ul class="grid four cards">
        ${KINDS.map((k) => html`<li class="card feature">
          <h3>${t('landing.what.' + k + '.title')}</h3>
          <p>${t('landing.what.' + k + '.text')}</p>
        </li>`)}
      </ul>
    </section>

    <section aria-labelledby="show-title">
      <h2 id="show-title">${t('landing.showcase.title')}</h2>
      <p class="muted">${t('landing.showcase.lead')}</p>
      <div class="grid two showcase">
        <figure class="card">
          <video class="media" src=${img('sample.mp4')} poster=${img('sample.png')} muted loop playsinline controls preload="metadata"
            width="160" height="120" aria-label=${t('landing.showcase.video_alt')}></video>
          <figcaption>${t('landing.showcase.caption_video')}</figcaption>
        </figure>
        <figure class="card">
          <img class="media" src=${img('sample.png')} width="128" height="128" alt=${t('landing.showcase.image_alt')} loading="lazy" />
          <figcaption>${t('landing.showcase.caption_image')}</figcaption>
        </figure>
      </div>
    </section>

    <section aria-labelledby="how-title">
      <h2 id="how-title">${t('landing.how.title')}</h2>
      <ol class="grid three steps-list">
        <li class="card"><h3>${t('landing.how.1.title')}</h3><p>${t('landing.how.1.text')}</p></li>
        <li class="card"><h3>${t('landing.how.2.title')}</h3><p>${t('landing.how.2.text')}</p></li>
        <li class="card"><h3>${t('landing.how.3.title')}</h3><p>${t('landing.how.3.text')}</p></li>
      </ol>
    </section>

    <section class="cta card" aria-labelledby="cta-title">
      <h2 id="cta-title">${t('landing.cta.title')}</h2>
      <p>${t('landing.cta.text')}</p>
      <${FromPrice} />
      <p class="row">
        <a class="btn primary" href=${start}>${user ? t('landing.hero.generate') : t('landing.hero.sign_up')}</a>
        <a href="/pricing">${t('landing.cta.pricing')}</a>
      </p>
    </section>
  </div>`;
}
