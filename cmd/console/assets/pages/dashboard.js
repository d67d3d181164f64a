import { h } from '../app.js';

// A placeholder until the dashboard lands.
export default {
  title: 'Dashboard',
  render(main) { main.append(h('h1', {}, 'Dashboard')); },
};
